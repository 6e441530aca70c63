"""The buttons under an answer: each click is worked out for the person who clicked, now.

The button's value is the answer's audit row id (``AuditLog``), nothing else. The row says
who asked, where and what; ``slackapp.kept`` holds the full answer and the tool results for
a while. A click that is not allowed gets a private line and nothing else is posted.

- *Show raw results* / *Export CSV*: the asker or an admin, and only results of tools the
  clicker may still call (with the arguments they ran with); the file goes to the clicker's
  DM with OMNI2, never to a channel.
- *Run again*: the same question, as the clicker (their permissions, their rate limit,
  audited as them), where the answer was.
- *Share in channel*: an ``/omni`` answer, by its asker only, once.
"""

import json
import logging
from dataclasses import dataclass

from audit.models import AuditLog, Source, ToolCallStatus
from audit.selectors import audit_sees_everything
from orchestration.threads import thread_key_for_slack
from permissions.models import User
from permissions.selectors import policy_decide

from . import answers
from .client import SlackError, slack_call, slack_respond
from .dedupe import (
    delivery_mark_done,
    delivery_placeholder,
    delivery_placeholder_remember,
    delivery_release,
    delivery_state,
)
from .formatting import (
    CSV_ACTION_ID,
    RAW_ACTION_ID,
    RERUN_ACTION_ID,
    SHARE_ACTION_ID,
    shared_answer_messages,
    text_message,
)
from .identity import slack_user_resolve
from .kept import answer_kept
from .replies import ResponseUrlReply, ThreadReply
from .tables import table_csv, tables_in

logger = logging.getLogger(__name__)

MAX_CSV_FILES = 5
GONE_TEXT = "This answer is no longer available."
EXPIRED_TEXT = "The results of this answer are no longer kept. Use *Run again*."
NOT_YOURS_TEXT = "🚫 Only the person who asked (or an OMNI2 admin) can see these results."
NO_TOOLS_TEXT = "🚫 You may not call the tools behind these results."
NO_TABLE_TEXT = "There is no table in the results you may see."
SHARE_NOT_YOURS_TEXT = "🚫 Only the person who asked can share this answer."
SHARE_NOT_IN_CHANNEL_TEXT = "⚠️ I cannot post in this channel. Invite me with `/invite @OMNI2`."


@dataclass(frozen=True)
class Click:
    key: str
    action_id: str
    slack_user_id: str
    response_url: str
    row: AuditLog
    user: User | None  # the clicker in OMNI2; None: the default user

    @property
    def by_asker(self) -> bool:
        if self.row.slack_user_id == self.slack_user_id:
            return True
        return self.user is not None and self.row.user_id == self.user.pk

    @property
    def from_command(self) -> bool:
        # Only a mention or a DM has a message of its own; an /omni answer is ephemeral.
        return not self.row.slack_message_ts


def slack_button_answer(
    *, key: str, action_id: str, audit_id: int, slack_user_id: str, response_url: str
) -> None:
    """Answer one click of a button under an answer (queued by ``slackapp.intake``)."""
    if delivery_state(key=key) == "done":
        return
    row = AuditLog.objects.filter(pk=audit_id, source=Source.SLACK).first()
    if row is None:
        _tell(response_url, GONE_TEXT)
        delivery_mark_done(key=key)
        return
    user = slack_user_resolve(slack_user_id=slack_user_id)
    click = Click(key, action_id, slack_user_id, response_url, row, user)
    if action_id == RERUN_ACTION_ID:
        _run_again(click)  # marks the delivery done however the answer ends
        return
    _HANDLERS[action_id](click)
    if delivery_state(key=key) == "pending":
        delivery_mark_done(key=key)


def _tell(response_url: str, text: str) -> None:
    """A private line to the clicker, under the message they clicked."""
    payload = {"response_type": "ephemeral", "replace_original": False, **text_message(text)}
    slack_respond(response_url=response_url, payload=payload)


# --- results: raw and CSV -------------------------------------------------------------------


def _visible_results(click: Click) -> list[dict] | None:
    """The tool results the clicker may see, or None after telling them why there are none."""
    if not (click.by_asker or audit_sees_everything(click.user)):
        _tell(click.response_url, NOT_YOURS_TEXT)
        return None
    kept = answer_kept(audit_id=click.row.pk)
    if not kept or kept.get("tool_results") is None:
        _tell(click.response_url, EXPIRED_TEXT)
        return None
    # Only calls the audit trail says succeeded in this answer, and that the clicker may
    # still make with the same arguments (a role or database grant may have gone since).
    audited = set(
        click.row.tool_calls.filter(status=ToolCallStatus.SUCCESS).values_list("mcp", "tool")
    )
    visible = [
        r
        for r in kept["tool_results"]
        if (r.get("mcp"), r.get("tool")) in audited
        and not r.get("is_error")
        and _may_call(click, r)
    ]
    if not visible:
        _tell(click.response_url, NO_TOOLS_TEXT)
        return None
    return visible


def _may_call(click: Click, result: dict) -> bool:
    decision = policy_decide(
        user=click.user,
        mcp=str(result.get("mcp")),
        tool=str(result.get("tool")),
        arguments=result.get("arguments") or {},
    )
    return decision.allowed


def _dm_upload(click: Click, *, filename: str, title: str, content: str) -> None:
    channel = slack_call("conversations_open", users=click.slack_user_id)["channel"]["id"]
    slack_call("files_upload_v2", channel=channel, filename=filename, title=title, content=content)


def _show_raw(click: Click) -> None:
    results = _visible_results(click)
    if results is None:
        return
    content = json.dumps(results, indent=2, ensure_ascii=False, default=str)
    name = f"omni2-results-{click.row.pk}.json"
    _dm_upload(click, filename=name, title="OMNI2 raw tool results", content=content)
    _tell(click.response_url, f"📎 The raw results ({len(results)}) are in your DM with OMNI2.")


def _export_csv(click: Click) -> None:
    results = _visible_results(click)
    if results is None:
        return
    tables = tables_in(results)[:MAX_CSV_FILES]
    if not tables:
        _tell(click.response_url, NO_TABLE_TEXT)
        return
    for n, (name, rows) in enumerate(tables, start=1):
        filename = f"omni2-{click.row.pk}-{n}-{name}.csv"
        _dm_upload(
            click, filename=filename, title=f"{name} ({len(rows)} rows)", content=table_csv(rows)
        )
    _tell(click.response_url, f"📎 {len(tables)} CSV file(s) are in your DM with OMNI2.")


# --- run again, share -------------------------------------------------------------------------


def _run_again(click: Click) -> None:
    """The same question as the clicker, where the answer was; rate limited and audited as them."""
    row = click.row
    thread_ts = None if click.from_command else (row.slack_thread_ts or None)
    slack = {
        "user_id": click.slack_user_id,
        "channel": row.slack_channel,
        "message_ts": None,
        "thread_ts": thread_ts,
    }
    if click.from_command:
        reply = ResponseUrlReply(response_url=click.response_url, slack_user_id=click.slack_user_id)
        thread_key = None
    else:
        reply = ThreadReply(
            channel=row.slack_channel,
            thread_ts=thread_ts,
            placeholder_ts=delivery_placeholder(key=click.key),
        )
        if reply.placeholder_ts is None:
            reply.start()
            delivery_placeholder_remember(key=click.key, ts=reply.placeholder_ts)
        thread_key = thread_key_for_slack(channel=row.slack_channel, thread_ts=thread_ts or "dm")
    answers.slack_question_answer(
        key=click.key,
        user=click.user,
        question=row.message,
        thread_key=thread_key,
        slack=slack,
        reply=reply,
    )


def _share(click: Click) -> None:
    row = click.row
    if not (click.from_command and click.by_asker):
        _tell(click.response_url, SHARE_NOT_YOURS_TEXT)
        return
    kept = answer_kept(audit_id=row.pk)
    if not kept:
        _tell(click.response_url, EXPIRED_TEXT)
        return
    messages = shared_answer_messages(
        mrkdwn=kept["answer"], asker=click.slack_user_id, question=row.message
    )
    try:
        for message in messages:
            slack_call("chat_postMessage", channel=row.slack_channel, **message)
    except SlackError as exc:
        if not exc.permanent:
            raise
        # Not in the channel (or it is gone): say so, and let a later click try again.
        _tell(click.response_url, SHARE_NOT_IN_CHANNEL_TEXT)
        delivery_release(key=click.key)
        return
    _tell(click.response_url, "✅ Shared in the channel.")


_HANDLERS = {RAW_ACTION_ID: _show_raw, CSV_ACTION_ID: _export_csv, SHARE_ACTION_ID: _share}
