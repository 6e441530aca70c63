"""Where an answer goes: a channel thread / DM, or a slash command's ``response_url``.

Both offer the same small surface (``start``, ``progress``, ``finish``, ``fail``,
``upload``) so the answering code does not care which one it holds.
"""

import logging
import threading
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from .client import SlackError, slack_call, slack_respond
from .formatting import WORKING, text_message

logger = logging.getLogger(__name__)


class ThreadReply:
    """Answer in a channel thread (mentions) or a DM: a placeholder, updated, then replaced."""

    def __init__(self, *, channel: str, thread_ts: str | None, placeholder_ts: str | None = None):
        self.channel = channel
        self.thread_ts = thread_ts
        self.placeholder_ts = placeholder_ts  # set: an earlier run posted it; finish that one
        self._lock = threading.Lock()  # tools of one turn start concurrently

    def start(self) -> None:
        data = slack_call(
            "chat_postMessage", channel=self.channel, thread_ts=self.thread_ts, text=WORKING
        )
        self.placeholder_ts = data["ts"]

    def progress(self, text: str) -> None:
        """Show which tool runs now; at most one update per interval per thread, never raises."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            key = f"slack:progress:{self.channel}:{self.thread_ts or self.placeholder_ts}"
            if cache.add(key, 1, timeout=settings.OMNI2_SLACK_PROGRESS_INTERVAL):
                slack_call("chat_update", channel=self.channel, ts=self.placeholder_ts, text=text)
        except Exception as exc:  # progress is decoration: it must never break the answer
            logger.info("slack: progress update skipped: %s", exc)
        finally:
            self._lock.release()

    def finish(self, messages: list[dict]) -> None:
        first, *rest = messages
        slack_call("chat_update", channel=self.channel, ts=self.placeholder_ts, **first)
        for message in rest:
            slack_call(
                "chat_postMessage", channel=self.channel, thread_ts=self.thread_ts, **message
            )

    def note(self, text: str) -> None:
        """A short extra message after the answer (e.g. a file that could not be uploaded)."""
        slack_call(
            "chat_postMessage", channel=self.channel, thread_ts=self.thread_ts, **text_message(text)
        )

    def fail(self, text: str) -> None:
        if self.placeholder_ts is None:
            slack_call(
                "chat_postMessage",
                channel=self.channel,
                thread_ts=self.thread_ts,
                **text_message(text),
            )
        else:
            slack_call(
                "chat_update", channel=self.channel, ts=self.placeholder_ts, **text_message(text)
            )

    def upload(
        self, *, filename: str, title: str, path: Path | None = None, content: str | None = None
    ) -> None:
        slack_call(
            "files_upload_v2",
            channel=self.channel,
            thread_ts=self.thread_ts,
            filename=filename,
            title=title,
            file=str(path) if path else None,
            content=content,
        )


class ResponseUrlReply:
    """Answer a slash command privately (ephemeral) through its ``response_url``.

    The command's HTTP response already showed the placeholder, and a response_url
    takes only five posts, so there are no progress updates. Files go to the user's
    DM with OMNI2: an ephemeral message cannot carry one.
    """

    def __init__(self, *, response_url: str, slack_user_id: str):
        self.response_url = response_url
        self.slack_user_id = slack_user_id

    def start(self) -> None:
        pass

    def progress(self, text: str) -> None:
        pass

    def finish(self, messages: list[dict]) -> None:
        for message in messages[:4]:
            slack_respond(
                response_url=self.response_url, payload={"response_type": "ephemeral", **message}
            )

    def fail(self, text: str) -> None:
        slack_respond(
            response_url=self.response_url,
            payload={"response_type": "ephemeral", **text_message(text)},
        )

    note = fail  # an ephemeral message is an ephemeral message

    def upload(
        self, *, filename: str, title: str, path: Path | None = None, content: str | None = None
    ) -> None:
        channel = slack_call("conversations_open", users=self.slack_user_id)["channel"]["id"]
        slack_call(
            "files_upload_v2",
            channel=channel,
            filename=filename,
            title=title,
            file=str(path) if path else None,
            content=content,
        )


# What the answering code holds: either kind answers through the same methods.
Reply = ThreadReply | ResponseUrlReply


def reply_fail_quietly(reply: Reply, text: str) -> None:
    """Replace the placeholder with why there is no answer; if even that fails, the log has it."""
    try:
        reply.fail(text)
    except SlackError as exc:
        logger.warning("slack: could not post an error message: %s", exc)


def reply_note_quietly(reply: Reply, text: str) -> None:
    try:
        reply.note(text)
    except SlackError as exc:
        logger.warning("slack: could not post a note: %s", exc)
