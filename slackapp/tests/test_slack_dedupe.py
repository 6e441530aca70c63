"""A delivery is claimed once across processes; a released claim can be claimed again."""

import threading
import uuid

import pytest

from slackapp.dedupe import delivery_claim, delivery_mark_done, delivery_release, delivery_state

pytestmark = pytest.mark.django_db(transaction=True)


def _key() -> str:
    return f"event:Ev{uuid.uuid4().hex[:10]}"


def test_only_the_first_claim_wins():
    key = _key()
    assert delivery_claim(key=key) is True
    assert delivery_claim(key=key) is False
    assert delivery_state(key=key) == "pending"


def test_a_released_claim_can_be_claimed_by_a_retry():
    key = _key()
    delivery_claim(key=key)
    delivery_release(key=key)
    assert delivery_state(key=key) is None
    assert delivery_claim(key=key) is True


def test_an_answered_delivery_is_never_claimed_again_even_after_a_release():
    key = _key()
    delivery_claim(key=key)
    delivery_mark_done(key=key)
    delivery_release(key=key)  # a late failure handler must not reopen an answered event
    assert delivery_state(key=key) == "done"
    assert delivery_claim(key=key) is False


def test_concurrent_claims_of_one_key_have_exactly_one_winner():
    key, barrier, wins = _key(), threading.Barrier(8), []

    def claim():
        barrier.wait()
        wins.append(delivery_claim(key=key))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_very_long_keys_are_stored_hashed_and_still_distinct():
    prefix = f"command:{uuid.uuid4().hex}:"
    first, second = prefix + "a" * 300, prefix + "a" * 299 + "b"
    assert delivery_claim(key=first) and delivery_claim(key=second)
    assert delivery_claim(key=first) is False
