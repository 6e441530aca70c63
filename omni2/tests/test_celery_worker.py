import uuid

import pytest

from omni2.tasks import ping

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_real_worker_runs_a_task_and_returns_its_result(celery_worker):
    token = uuid.uuid4().hex
    result = ping.delay(token).get(timeout=30)
    assert result["token"] == token
    # It ran in the worker process, not in the test process.
    assert result["pid"] == celery_worker.pid or result["pid"] != __import__("os").getpid()


def test_the_embedded_broker_writes_each_message_under_a_hidden_name_first(settings, tmp_path):
    from omni2.broker import Channel, Transport
    from omni2.celery import app

    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("a real broker is configured")
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)
    channel = Channel.__new__(Channel)
    channel.__dict__["data_folder_out"] = str(tmp_path)
    channel._put("q1", {"hello": "world"})
    [name] = [p.name for p in tmp_path.iterdir()]
    assert name.endswith(".q1.msg") and not name.startswith(".")
