"""Thread memory: the last few exchanges of a conversation, shared by every process."""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import ThreadTurn


def thread_key_for_api(*, user_id: int, thread_id: str) -> str:
    # Scoped to the user: another user naming the same thread_id must not read this memory.
    return f"api:{user_id}:{thread_id}"[:200]


def thread_key_for_slack(*, channel: str, thread_ts: str) -> str:
    return f"slack:{channel}:{thread_ts}"[:200]


def _cutoff():
    return timezone.now() - timedelta(seconds=settings.OMNI2_THREAD_TTL_SECONDS)


def thread_history(*, thread_key: str | None) -> list[dict]:
    """Prior exchanges as alternating user/assistant messages, oldest first."""
    if not thread_key or settings.OMNI2_THREAD_MAX_EXCHANGES <= 0:
        return []
    turns = list(
        ThreadTurn.objects.filter(thread_key=thread_key, created_at__gte=_cutoff())
        .order_by("-created_at")
        .values_list("question", "answer")[: settings.OMNI2_THREAD_MAX_EXCHANGES]
    )
    messages = []
    for question, answer in reversed(turns):
        messages.append({"role": "user", "content": question})
        messages.append({"role": "assistant", "content": answer or "(no answer)"})
    return messages


def thread_remember(*, thread_key: str | None, question: str, answer: str) -> None:
    if not thread_key:
        return
    ThreadTurn.objects.create(thread_key=thread_key, question=question, answer=answer)
    # Expired turns are never read; purging them now and then keeps the table small
    # without a scheduler and without a DELETE on every question.
    global _last_purge
    if time.monotonic() - _last_purge > PURGE_EVERY_SECONDS:
        _last_purge = time.monotonic()
        thread_purge_expired()


PURGE_EVERY_SECONDS = 600
_last_purge = float("-inf")


def thread_purge_expired() -> int:
    deleted, _ = ThreadTurn.objects.filter(created_at__lt=_cutoff()).delete()
    return deleted
