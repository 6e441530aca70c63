"""SPEC §7: the limiter is atomic across processes — exactly L of 200 concurrent requests pass."""

import os

import pytest
from django.conf import settings

from audit.ratelimit import redis_key
from audit.tests.concurrency import hit_concurrently
from testing.celery_worker import database_url_for_tests

LIMIT = 37


def assert_exactly_limit_admitted(admitted: dict[str, list[int]], pids: set[int]):
    assert len(pids) == 4 and os.getpid() not in pids
    assert len(admitted) == 10
    for used in admitted.values():
        # Exactly L admitted, and each saw a distinct count 1..L: no two took the same slot.
        assert sorted(used) == list(range(1, LIMIT + 1))


def child_env(**overrides) -> dict:
    return {
        "DATABASE_URL": database_url_for_tests(),
        "OMNI2_VAR_DIR": str(settings.VAR_DIR),
        **overrides,
    }


@pytest.mark.django_db(transaction=True)
def test_exactly_l_of_200_requests_from_4_processes_pass_on_redis(redis_client):
    admitted, pids = hit_concurrently(
        env=child_env(REDIS_URL=settings.REDIS_URL), limit=LIMIT, threads=50
    )
    try:
        assert_exactly_limit_admitted(admitted, pids)
    finally:
        redis_client.delete(*[redis_key(key) for key in admitted])


@pytest.mark.django_db(transaction=True)
def test_exactly_l_of_200_requests_from_4_processes_pass_on_the_database():
    # REDIS_URL="" makes every child use the database limiter, whatever this run uses.
    admitted, pids = hit_concurrently(env=child_env(REDIS_URL=""), limit=LIMIT, threads=5)
    assert_exactly_limit_admitted(admitted, pids)
