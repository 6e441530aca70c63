"""The task side of Slack: answer a question, a slash command or a help click, in Slack.

Called by ``slackapp.tasks`` for a delivery that ``slackapp.intake`` claimed (``key``). Once
the user is being answered nothing raises and nothing is answered twice; the delivery is
marked done however the answer ended.
"""

import html
import logging
import re
import time

from django.conf import settings

from audit.ratelimit import RateLimited, rate_limit_enforce
from core.errors import ApiError
from orchestration.chat import chat_ask
from orchestration.health import system_health
from orchestration.llm import LlmError
from orchestration.threads import thread_key_for_slack
from permissions.models import User
from permissions.selectors import user_policy_for

from .client import SlackError, slack_bot_user_id, slack_respond
from .dedupe import (
    delivery_mark_done,
    delivery_placeholder,
    delivery_placeholder_remember,
    delivery_state,
)
from .formatting import (
    answer_buttons,
    answer_messages,
    attached_answer_message,
    footer_text,
    help_message,
    markdown_to_mrkdwn,
    mrkdwn_escape,
    status_message,
    tools_message,
)
from .identity import slack_user_resolve
from .kept import answer_keep
from .replies import Reply, ResponseUrlReply, ThreadReply, reply_fail_quietly, reply_note_quietly
from .reports import report_paths
from .selectors import slack_permitted_mcps, slack_permitted_tools
from .tables import tables_in

logger = logging.getLogger(__name__)

ERROR_TEXT = "⚠️ Sorry, something went wrong while answering. Please try again."
INTERRUPTED_TEXT = "⚠️ Sorry, answering this was interrupted several times. Please ask again."


# --- a question: a mention, a DM or /omni ------------------------------------------------------


def _question_from(text: str, bot_user_id: str) -> str:
    """The question without OMNI2's own @-mention, with Slack's &amp; &lt; &gt; decoded."""
    text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text)
    return html.unescape(text).strip()


def _answer_thread_ts(event: dict) -> str | None:
    """A mention is answered in its thread; a DM outside a thread in the DM itself."""
    return event.get("thread_ts") or (
        event.get("ts") if event.get("type") == "app_mention" else None
    )


def slack_event_answer(*, key: str, event: dict) -> None:
    """Answer a mention in its thread, or a DM in the DM. Errors before the placeholder raise."""
    if delivery_state(key=key) == "done":  # a redelivered task whose answer went out
        return
    bot_user_id = slack_bot_user_id()
    question = _question_from(event.get("text", ""), bot_user_id)
    if event.get("user") == bot_user_id or not question:
        delivery_mark_done(key=key)
        return
    channel, ts = event["channel"], event.get("ts")
    thread_ts = _answer_thread_ts(event)
    slack = {"user_id": event["user"], "channel": channel, "message_ts": ts, "thread_ts": thread_ts}
    # A DM outside any thread is one running conversation.
    thread_key = thread_key_for_slack(channel=channel, thread_ts=thread_ts or "dm")
    user = slack_user_resolve(slack_user_id=event["user"])
    # A run that died may have posted the placeholder already: finish that message, not a new one.
    reply = ThreadReply(
        channel=channel, thread_ts=thread_ts, placeholder_ts=delivery_placeholder(key=key)
    )
    if reply.placeholder_ts is None:
        reply.start()
        delivery_placeholder_remember(key=key, ts=reply.placeholder_ts)
    _answer_and_finish(
        key=key, user=user, question=question, thread_key=thread_key, slack=slack, reply=reply
    )


def slack_command_answer(*, key: str, command: dict) -> None:
    """``/omni``, ``/omni-help`` or ``/omni-status``, answered through the command's response_url."""
    if delivery_state(key=key) == "done":
        return
    name, response_url = command["command"], command["response_url"]
    if name == "/omni":
        _command_question_answer(key=key, command=command)
        return
    if name == "/omni-status":
        slack_status_send(response_url=response_url)
    else:
        slack_help_send(slack_user_id=command["user_id"], response_url=response_url)
    delivery_mark_done(key=key)


def _command_question_answer(*, key: str, command: dict) -> None:
    slack_user_id = command["user_id"]
    slack = {
        "user_id": slack_user_id,
        "channel": command.get("channel_id"),
        "message_ts": None,
        "thread_ts": None,
    }
    _answer_and_finish(
        key=key,
        user=slack_user_resolve(slack_user_id=slack_user_id),
        question=command["text"],
        thread_key=None,
        slack=slack,
        reply=ResponseUrlReply(response_url=command["response_url"], slack_user_id=slack_user_id),
    )


def slack_delivery_give_up(
    *, key: str, event: dict | None = None, command: dict | None = None
) -> None:
    """Every run of ``key`` died with its worker: say so where the answer was due, once."""
    if delivery_state(key=key) != "done":
        if event is not None:
            reply = ThreadReply(
                channel=event["channel"],
                thread_ts=_answer_thread_ts(event),
                placeholder_ts=delivery_placeholder(key=key),
            )
            reply_fail_quietly(reply, INTERRUPTED_TEXT)
        elif command is not None and command.get("command") == "/omni":
            reply_fail_quietly(
                ResponseUrlReply(
                    response_url=command["response_url"], slack_user_id=command["user_id"]
                ),
                INTERRUPTED_TEXT,
            )
    logger.error("slack: %s given up after its runs kept dying", key)
    delivery_mark_done(key=key)


def _answer_and_finish(
    *, key: str, user: User | None, question: str, thread_key: str | None, slack: dict, reply: Reply
) -> None:
    """From here on the user is being answered: never raise, never answer twice."""
    started = time.monotonic()
    try:
        result = _ask(user=user, question=question, thread_key=thread_key, slack=slack, reply=reply)
        if result is not None:
            _deliver(result=result, user=user, seconds=time.monotonic() - started, reply=reply)
    except Exception:
        logger.exception("slack: answering %s failed", key)
        reply_fail_quietly(reply, ERROR_TEXT)
    finally:
        delivery_mark_done(key=key)


def _ask(
    *, user: User | None, question: str, thread_key: str | None, slack: dict, reply: Reply
) -> dict | None:
    """The chat result, or None when the user was already told why not (rate limit, no LLM…)."""
    try:
        # An unknown Slack user acts as the default user, with a window per Slack id.
        rate_limit_enforce(
            user=user,
            stranger_key=f"slack:{slack['user_id']}",
            source="slack",
            message=question,
            slack=slack,
        )
        result = chat_ask(
            user=user,
            message=question,
            thread_key=thread_key,
            source="slack",
            slack=slack,
            on_progress=reply.progress,
        )
    except RateLimited as exc:
        reply_fail_quietly(reply, exc.message)
        return None
    except (ApiError, LlmError) as exc:  # their messages are written for people ("no LLM…")
        reply_fail_quietly(reply, f"⚠️ {exc.message}")
        return None
    if not result.get("success"):
        reply_fail_quietly(
            reply, f"⚠️ {(result.get('error') or 'The question could not be answered.')[:300]}"
        )
        return None
    return result


def _role_name(user: User | None) -> str:
    return user.role.name if user is not None else user_policy_for(None).role


def _deliver(*, result: dict, user: User | None, seconds: float, reply: Reply) -> None:
    answer = result.get("answer") or ""
    footer = None
    if settings.OMNI2_SLACK_FOOTER:
        footer = footer_text(
            role=_role_name(user),
            tools_used=result.get("tools_used") or [],
            cost_usd=result.get("cost_usd"),
            seconds=seconds,
        )
    mrkdwn = markdown_to_mrkdwn(answer)
    if len(mrkdwn) > settings.OMNI2_SLACK_MAX_ANSWER_CHARS:
        messages = [attached_answer_message(mrkdwn=mrkdwn, footer=footer)]
    else:
        messages = answer_messages(mrkdwn=mrkdwn, footer=footer)
    buttons = _buttons(result=result, mrkdwn=mrkdwn, ephemeral=isinstance(reply, ResponseUrlReply))
    if buttons:
        messages[-1]["blocks"].append(buttons)
    reply.finish(messages)
    if len(mrkdwn) > settings.OMNI2_SLACK_MAX_ANSWER_CHARS:
        _upload(reply, filename="answer.md", title="OMNI2 answer", content=answer)
    for path in report_paths(result.get("tool_results") or []):
        _upload(reply, filename=path.name, title=path.name, path=path)


def _buttons(*, result: dict, mrkdwn: str, ephemeral: bool) -> dict | None:
    """The buttons under an answer (``slackapp.buttons`` answers them); kept data first."""
    if not result.get("audit_id"):
        return None
    tool_results = result.get("tool_results") or []
    kept = answer_keep(audit_id=result["audit_id"], answer=mrkdwn, tool_results=tool_results)
    return answer_buttons(
        audit_id=result["audit_id"],
        raw=kept and any(not r.get("is_error") for r in tool_results),
        csv=kept and bool(tables_in(tool_results)),
        share=ephemeral,
    )


def slack_question_answer(
    *, key: str, user: User | None, question: str, thread_key: str | None, slack: dict, reply: Reply
) -> None:
    """Answer ``question`` as ``user`` into ``reply`` (the "Run again" button's way in)."""
    _answer_and_finish(
        key=key, user=user, question=question, thread_key=thread_key, slack=slack, reply=reply
    )


def _upload(reply: Reply, **kwargs) -> None:
    try:
        reply.upload(**kwargs)
    except SlackError as exc:  # the answer is out already; a missing file is told, not fatal
        logger.warning("slack: upload of %s failed: %s", kwargs.get("filename"), exc)
        name = mrkdwn_escape(kwargs.get("filename", ""))
        reply_note_quietly(reply, f"⚠️ The file {name} could not be uploaded.")


# --- help and status ---------------------------------------------------------------------------


def _respond(response_url: str, message: dict) -> None:
    slack_respond(response_url=response_url, payload={"response_type": "ephemeral", **message})


def slack_help_send(*, slack_user_id: str, response_url: str) -> None:
    user = slack_user_resolve(slack_user_id=slack_user_id)
    _respond(response_url, help_message(slack_permitted_mcps(user=user)))


def slack_help_tools_send(*, key: str, slack_user_id: str, mcp: str, response_url: str) -> None:
    """A help button click: ``mcp``'s tools for the clicking user, checked now."""
    user = slack_user_resolve(slack_user_id=slack_user_id)
    # An MCP the user may not use, or that does not exist, looks exactly like one without tools.
    _respond(response_url, tools_message(mcp=mcp, tools=slack_permitted_tools(user=user, mcp=mcp)))
    delivery_mark_done(key=key)


def slack_status_send(*, response_url: str) -> None:
    _, body = system_health()
    _respond(response_url, status_message(body))
