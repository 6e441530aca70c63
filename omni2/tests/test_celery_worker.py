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
