"""Slack: what a request may do (verify elsewhere, filter, claim, enqueue) and what a task does.

Request side: ``slack_event_enqueue``, ``slack_command_enqueue``, ``slack_action_enqueue``
decide, claim the delivery (``slackapp.dedupe``) and queue a Celery task, nothing more.
Task side: ``slack_event_answer``, ``slack_command_answer``, ``slack_help_send``,
``slack_help_tools_send``, ``slack_status_send`` do the work and talk to Slack.
"""

import html
import logging
import re
import time

from django.conf import settings
from django.db import IntegrityError, transaction

from core.errors import ApiError

from .client import SlackError, slack_bot_user_id, slack_respond, slack_user_email
from .dedupe import (
    delivery_claim,
    delivery_mark_done,
    delivery_placeholder,
    delivery_placeholder_remember,
    delivery_release,
    delivery_state,
)
from .formatting import (
    WORKING,
    answer_messages,
    attached_answer_message,
    footer_text,
    help_message,
    markdown_to_mrkdwn,
    mrkdwn_escape,
    status_message,
    tools_message,
)
from .replies import ResponseUrlReply, ThreadReply, reply_fail_quietly, reply_note_quietly
from .reports import report_paths

logger = logging.getLogger(__name__)

# Message subtypes that are still a person talking; any other subtype (bot_message,
# message_changed, message_deleted, channel_join…) is ignored so OMNI2 never loops.
_PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")
_EVENT_FIELDS = ("type", "channel", "channel_type", "user", "text", "ts", "thread_ts")
COMMANDS = ("/omni", "/omni-help", "/omni-status")
HELP_ACTION_ID = "omni_help_mcp"
ERROR_TEXT = "⚠️ Sorry, something went wrong while answering. Please try again."
INTERRUPTED_TEXT = "⚠️ Sorry, answering this was interrupted several times. Please ask again."
USAGE_TEXT = "Ask me anything about your systems, e.g. `/omni Which databases can I use?`"


class SlackUnavailable(Exception):
    """The task could not be queued; Slack gets a 503 and will retry the delivery."""


def _dict(value) -> dict:
    # Slack's payloads are signed but still parsed defensively: a wrong shape is ignored, not a 500.
    return value if isinstance(value, dict) else {}


# --- request side ------------------------------------------------------------------


def slack_event_wanted(event: dict, *, own_user_ids: set) -> bool:
    """A person mentioning OMNI2 or writing to it in a DM; never a bot, an edit or OMNI2 itself."""
    is_mention = event.get("type") == "app_mention"
    is_dm = event.get("type") == "message" and event.get("channel_type") == "im"
    if (
        not (is_mention or is_dm)
        or event.get("bot_id")
        or event.get("subtype") not in _PERSON_SUBTYPES
    ):
        return False
    user = event.get("user")
    return (
        isinstance(user, str)
        and bool(user)
        and user not in own_user_ids
        and bool(event.get("channel"))
    )


def _own_user_ids(payload: dict) -> set:
    """OMNI2's bot user as the signed payload names it, at no cost; the worker asks auth.test too."""
    authorizations = payload.get("authorizations")
    if not isinstance(authorizations, list):
        return set()
    return {_dict(a).get("user_id") for a in authorizations if _dict(a).get("is_bot") is True} - {
        None
    }


# Slack waits 3 s for the acknowledgement: give a flapping broker a moment, not Celery's default ~1 s+.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.4}


def _enqueue(task, *, key: str, **kwargs) -> None:
    try:
        # kwargsrepr: monitoring shows the delivery key, not people's questions (and no repr cost).
        task.apply_async(
            kwargs={"key": key, **kwargs},
            retry_policy=_PUBLISH_RETRY,
            argsrepr="()",
            kwargsrepr=key,
        )
    except Exception as exc:  # broker down: let Slack's retry answer it
        delivery_release(key=key)
        logger.error("slack: could not queue %s: %s", key, exc.__class__.__name__)
        raise SlackUnavailable from exc


def slack_event_enqueue(*, payload: dict) -> str:
    """``queued``, ``duplicate`` or ``ignored``; raises SlackUnavailable if the broker refused."""
    from .tasks import slack_event_task

    event = _dict(payload.get("event"))
    if not slack_event_wanted(event, own_user_ids=_own_user_ids(payload)):
        return "ignored"
    key = f"event:{payload.get('event_id') or event.get('client_msg_id') or event.get('ts')}"
    if not delivery_claim(key=key):
        return "duplicate"
    trimmed = {name: str(event[name]) for name in _EVENT_FIELDS if event.get(name) is not None}
    _enqueue(slack_event_task, key=key, event=trimmed)
    return "queued"


def slack_command_enqueue(*, form: dict) -> dict | None:
    """Queue a slash command; return the immediate (ephemeral) response body, or None."""
    from .tasks import slack_command_task

    command, text = form.get("command", ""), form.get("text", "").strip()
    if command not in COMMANDS:
        return {
            "response_type": "ephemeral",
            "text": f"Unknown command. Try {', '.join(COMMANDS)}.",
        }
    if command == "/omni" and not text:
        return {"response_type": "ephemeral", "text": USAGE_TEXT}
    ack = {"response_type": "ephemeral", "text": WORKING} if command == "/omni" else None
    key = f"command:{form.get('trigger_id') or form.get('response_url')}"
    if delivery_claim(key=key):
        fields = ("command", "text", "user_id", "channel_id", "response_url")
        _enqueue(
            slack_command_task, key=key, command={name: str(form.get(name, "")) for name in fields}
        )
    return ack


def slack_action_enqueue(*, payload: dict) -> None:
    """Queue the ``omni_help_mcp`` button click. The user is the signed payload's, never the button's."""
    from .tasks import slack_help_tools_task

    actions = payload.get("actions")
    action = _dict(actions[0]) if isinstance(actions, list) and actions else {}
    user_id = _dict(payload.get("user")).get("id")
    if (
        payload.get("type") != "block_actions"
        or action.get("action_id") != HELP_ACTION_ID
        or not user_id
    ):
        return
    key = f"action:{payload.get('trigger_id') or action.get('action_ts')}"
    if delivery_claim(key=key):
        _enqueue(
            slack_help_tools_task,
            key=key,
            slack_user_id=str(user_id),
            mcp=str(action.get("value", ""))[:100],
            response_url=str(payload.get("response_url", "")),
        )


# --- identity -------------------------------------------------------------------------


def slack_user_resolve(*, slack_user_id: str):
    """The OMNI2 user behind a Slack id: stored id, else the Slack profile's e-mail, else None.

    None means the default user. A match by e-mail stores the Slack id on the user, so
    Slack is asked only once per person.
    """
    from permissions.selectors import user_resolve

    user = user_resolve(slack_user_id=slack_user_id)
    if user is not None:
        return user
    email = slack_user_email(slack_user_id=slack_user_id)
    user = user_resolve(email=email) if email else None
    if user is not None and not user.slack_user_id:
        user.slack_user_id = slack_user_id
        try:
            with transaction.atomic():
                user.save(
                    update_fields=["slack_user_id"]
                )  # a save, so the policy cache hears of it
        except IntegrityError:  # an inactive account holds that Slack id: leave both alone
            logger.warning("slack: Slack id %s already belongs to another account", slack_user_id)
    return user


# --- task side: answering a question --------------------------------------------------------


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
    from orchestration.threads import thread_key_for_slack

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
    name, response_url, slack_user_id = (
        command["command"],
        command["response_url"],
        command["user_id"],
    )
    if name == "/omni":
        user = slack_user_resolve(slack_user_id=slack_user_id)
        slack = {
            "user_id": slack_user_id,
            "channel": command.get("channel_id"),
            "message_ts": None,
            "thread_ts": None,
        }
        reply = ResponseUrlReply(response_url=response_url, slack_user_id=slack_user_id)
        _answer_and_finish(
            key=key, user=user, question=command["text"], thread_key=None, slack=slack, reply=reply
        )
        return
    if name == "/omni-status":
        slack_status_send(response_url=response_url)
    else:
        slack_help_send(slack_user_id=slack_user_id, response_url=response_url)
    delivery_mark_done(key=key)


def slack_delivery_give_up(
    *, key: str, event: dict | None = None, command: dict | None = None, **_
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
    *, key: str, user, question: str, thread_key: str | None, slack: dict, reply
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


def _ask(*, user, question: str, thread_key: str | None, slack: dict, reply) -> dict | None:
    """The chat result, or None when the user was already told why not (rate limit, no LLM…)."""
    from audit.ratelimit import RateLimited
    from orchestration.chat import chat_ask
    from orchestration.llm import LlmError

    try:
        slack_rate_limit_enforce(
            user=user, slack_user_id=slack["user_id"], question=question, slack=slack
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
    except (
        ApiError,
        LlmError,
    ) as exc:  # their messages are written for people ("no LLM is configured")
        reply_fail_quietly(reply, f"⚠️ {exc.message}")
        return None
    if not result.get("success"):
        reply_fail_quietly(
            reply, f"⚠️ {(result.get('error') or 'The question could not be answered.')[:300]}"
        )
        return None
    return result


def slack_rate_limit_enforce(*, user, slack_user_id: str, question: str, slack: dict) -> None:
    """Count one question; raise ``RateLimited`` (its ``message`` is the Slack text) when over."""
    from audit.ratelimit import rate_limit_enforce

    if user is None:
        _stranger_rate_limit_enforce(slack_user_id=slack_user_id, question=question, slack=slack)
    else:
        rate_limit_enforce(user=user, source="slack", message=question, slack=slack)


def _stranger_rate_limit_enforce(*, slack_user_id: str, question: str, slack: dict) -> None:
    """Unknown Slack users act as the default user, each with a window of their own."""
    from audit.models import Status
    from audit.ratelimit import RateLimited, rate_limit_hit, rate_limit_message
    from audit.services import audit_record
    from permissions.models import Role
    from permissions.selectors import user_policy_for

    policy = user_policy_for(None)
    role = Role.objects.filter(name=policy.role).first()
    limit = None if policy.is_privileged or role is None else role.requests_per_hour
    result = rate_limit_hit(
        key=f"slack:{slack_user_id}",
        limit=limit,
        window_seconds=settings.OMNI2_RATE_LIMIT_WINDOW_SECONDS,
    )
    if not result.allowed:
        log = audit_record(
            user=None,
            source="slack",
            message=question,
            status=Status.RATE_LIMITED,
            error=rate_limit_message(result),
            slack=slack,
        )
        raise RateLimited(result, audit_id=log.pk)


def _role_name(user) -> str:
    if user is not None:
        return user.role.name
    from permissions.selectors import user_policy_for

    return user_policy_for(None).role


def _deliver(*, result: dict, user, seconds: float, reply) -> None:
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
        reply.finish([attached_answer_message(mrkdwn=mrkdwn, footer=footer)])
        _upload(reply, filename="answer.md", title="OMNI2 answer", content=answer)
    else:
        reply.finish(answer_messages(mrkdwn=mrkdwn, footer=footer))
    for path in report_paths(result.get("tool_results") or []):
        _upload(reply, filename=path.name, title=path.name, path=path)


def _upload(reply, **kwargs) -> None:
    try:
        reply.upload(**kwargs)
    except SlackError as exc:  # the answer is out already; a missing file is told, not fatal
        logger.warning("slack: upload of %s failed: %s", kwargs.get("filename"), exc)
        name = mrkdwn_escape(kwargs.get("filename", ""))
        reply_note_quietly(reply, f"⚠️ The file {name} could not be uploaded.")


# --- task side: help and status ---------------------------------------------------------


def _respond(response_url: str, message: dict) -> None:
    slack_respond(response_url=response_url, payload={"response_type": "ephemeral", **message})


def slack_help_send(*, slack_user_id: str, response_url: str) -> None:
    from .selectors import slack_permitted_mcps

    user = slack_user_resolve(slack_user_id=slack_user_id)
    _respond(response_url, help_message(slack_permitted_mcps(user=user)))


def slack_help_tools_send(*, key: str, slack_user_id: str, mcp: str, response_url: str) -> None:
    """A help button click: ``mcp``'s tools for the clicking user, checked now."""
    from .selectors import slack_permitted_tools

    user = slack_user_resolve(slack_user_id=slack_user_id)
    # An MCP the user may not use, or that does not exist, looks exactly like one without tools.
    _respond(response_url, tools_message(mcp=mcp, tools=slack_permitted_tools(user=user, mcp=mcp)))
    delivery_mark_done(key=key)


def slack_status_send(*, response_url: str) -> None:
    from orchestration.health import system_health

    _, body = system_health()
    _respond(response_url, status_message(body))
