"""What an answer keeps for its buttons: the full answer and its tool results, for a while.

The audit trail stores neither (only a preview and redacted arguments), so a Slack answer
keeps them in the cache under its audit row's id for ``OMNI2_SLACK_BUTTONS_TTL_SECONDS``.
The button carries only that id; who may see what is decided at click time
(``slackapp.buttons``). After the TTL the buttons say the answer has expired.
"""

import json

from django.conf import settings
from django.core.cache import cache

# One answer's kept copy stays small in Redis; larger tool results are not kept (no buttons).
MAX_KEPT_BYTES = 2 * 1024 * 1024


def _key(audit_id: int) -> str:
    return f"slack:answer:{int(audit_id)}"


def answer_keep(*, audit_id: int, answer: str, tool_results: list[dict]) -> bool:
    """Keep ``answer`` and ``tool_results``; False (results not kept) when they are too big."""
    kept = {"answer": answer, "tool_results": tool_results}
    if len(json.dumps(kept, default=str)) > MAX_KEPT_BYTES:
        kept["tool_results"] = None
    cache.set(_key(audit_id), kept, timeout=settings.OMNI2_SLACK_BUTTONS_TTL_SECONDS)
    return kept["tool_results"] is not None


def answer_kept(*, audit_id: int) -> dict | None:
    """``{"answer", "tool_results"}`` (results None if they were too big), or None if expired."""
    return cache.get(_key(audit_id))
