"""The task queue's broker is down or silent: ``ask/async`` says so (503) and leaves no job behind."""

import socket
import threading

import pytest
from django.conf import settings

from omni2.celery import app as celery_app
from orchestration.models import ChatJob

pytestmark = pytest.mark.django_db


class SilentBroker:
    """A port that accepts connections and never answers: a hung Redis, the slow way to fail."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"

    def _accept(self):
        try:
            while True:
                self.accepted.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def _closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connections are refused
    return f"redis://127.0.0.1:{port}/0"


def _use_broker(url: str | None, saved: dict) -> None:
    """Point this process's Celery app at ``url`` (None: back to the saved settings) with fresh pools."""
    conf = celery_app.conf
    if url is None:
        conf.update(saved)
    else:
        # Publishing uses the write URL; Celery's broker_url prefers the CELERY_BROKER_URL variable.
        conf.update(
            broker_write_url=url,
            broker_transport=None,
            broker_transport_options=dict(settings.OMNI2_BROKER_FAIL_FAST_OPTIONS),
        )
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_at():
    conf = celery_app.conf
    saved = {
        name: conf[name]
        for name in ("broker_write_url", "broker_transport", "broker_transport_options")
    }
    yield lambda url: _use_broker(url, saved)
    _use_broker(None, saved)


@pytest.mark.parametrize("broker", ["refused", "silent"])
def test_ask_async_answers_503_and_leaves_no_queued_job_when_the_broker_is_down(
    broker, broker_at, fake_llm, authed_client
):
    silent = SilentBroker() if broker == "silent" else None
    broker_at(silent.url if silent else _closed_port_url())
    try:
        client = authed_client()
        response = client.post("/api/chat/ask/async", {"message": "hi"}, format="json")
    finally:
        if silent:
            silent.close()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert not ChatJob.objects.filter(status=ChatJob.Status.QUEUED).exists()
    job = ChatJob.objects.get(user=client.user)
    assert job.status == ChatJob.Status.FAILED and "could not be queued" in job.error
    if silent:
        assert (
            len(silent.accepted) <= 2
        )  # one connection and at most one retry, each with a timeout
