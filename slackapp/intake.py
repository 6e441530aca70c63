"""What a Slack request may do, inside Slack's three seconds: filter, claim, enqueue.

The signature is checked before (``slackapp.verification``). Each ``slack_*_enqueue`` decides
whether the delivery is wanted, claims it once across processes (``slackapp.dedupe``) and
publishes a Celery task, nothing more; ``slackapp.answers`` does the work in the worker.
Tasks are published by name (the constants below, which ``slackapp.tasks`` registers), so the
request side imports nothing of the task side.
"""

import logging

from celery import current_app

from .dedupe import delivery_claim, delivery_release
from .formatting import ANSWER_ACTION_IDS, HELP_ACTION_ID, SHARE_ACTION_ID, WORKING

logger = logging.getLogger(__name__)

EVENT_TASK = "slackapp.answer_event"
COMMAND_TASK = "slackapp.answer_command"
HELP_TOOLS_TASK = "slackapp.help_tools"
BUTTON_TASK = "slackapp.answer_button"
HOME_TASK = "slackapp.home_publish"

# Message subtypes that are still a person talking; any other subtype (bot_message,
# message_changed, message_deleted, channel_join…) is ignored so OMNI2 never loops.
_PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")
_EVENT_FIELDS = ("type", "channel", "channel_type", "user", "text", "ts", "thread_ts")
_COMMAND_FIELDS = ("command", "text", "user_id", "channel_id", "response_url")
COMMANDS = ("/omni", "/omni-help", "/omni-status")
USAGE_TEXT = "Ask me anything about your systems, e.g. `/omni Which databases can I use?`"

# Slack waits 3 s for the acknowledgement: give a flapping broker a moment, not Celery's default ~1 s+.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.4}


class SlackUnavailable(Exception):
    """The task could not be queued; Slack gets a 503 and will retry the delivery."""


def _dict(value) -> dict:
    # Slack's payloads are signed but still parsed defensively: a wrong shape is ignored, not a 500.
    return value if isinstance(value, dict) else {}


def _event_wanted(event: dict, own_user_ids: set[str]) -> bool:
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


def _own_user_ids(payload: dict) -> set[str]:
    """OMNI2's bot user as the signed payload names it, at no cost; the worker asks auth.test too."""
    authorizations = payload.get("authorizations")
    if not isinstance(authorizations, list):
        return set()
    return {_dict(a).get("user_id") for a in authorizations if _dict(a).get("is_bot") is True} - {
        None
    }


def _enqueue(task_name: str, *, key: str, **kwargs) -> None:
    try:
        # kwargsrepr: monitoring shows the delivery key, not people's questions (and no repr cost).
        # ignore_result: nobody waits for these results, so no result-backend work on publish.
        current_app.send_task(
            task_name,
            kwargs={"key": key, **kwargs},
            retry_policy=_PUBLISH_RETRY,
            ignore_result=True,
            argsrepr="()",
            kwargsrepr=key,
        )
    except Exception as exc:  # broker down: let Slack's retry answer it
        delivery_release(key=key)
        logger.error("slack: could not queue %s: %s", key, exc.__class__.__name__)
        raise SlackUnavailable from exc


def slack_event_enqueue(*, payload: dict) -> str:
    """``queued``, ``duplicate`` or ``ignored``; raises SlackUnavailable if the broker refused."""
    event = _dict(payload.get("event"))
    if event.get("type") == "app_home_opened":
        return _home_enqueue(payload, event)
    if not _event_wanted(event, _own_user_ids(payload)):
        return "ignored"
    key = f"event:{payload.get('event_id') or event.get('client_msg_id') or event.get('ts')}"
    if not delivery_claim(key=key):
        return "duplicate"
    trimmed = {name: str(event[name]) for name in _EVENT_FIELDS if event.get(name) is not None}
    _enqueue(EVENT_TASK, key=key, event=trimmed)
    return "queued"


def _home_enqueue(payload: dict, event: dict) -> str:
    """The App Home tab was opened: publish that person's Home view (``slackapp.home``)."""
    user = event.get("user")
    if event.get("tab") != "home" or not isinstance(user, str) or not user:
        return "ignored"
    key = f"home:{payload.get('event_id') or event.get('event_ts')}"
    if not delivery_claim(key=key):
        return "duplicate"
    _enqueue(HOME_TASK, key=key, slack_user_id=user)
    return "queued"


def slack_command_enqueue(*, form: dict) -> dict | None:
    """Queue a slash command; return the immediate (ephemeral) response body, or None."""
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
        fields = {name: str(form.get(name, "")) for name in _COMMAND_FIELDS}
        _enqueue(COMMAND_TASK, key=key, command=fields)
    return ack


def _button_key(action_id: str, audit_id: str, user_id: str) -> str:
    # Double clicks and Slack's retries carry new trigger ids: one effect per person and
    # answer (sharing: one per answer), whatever the delivery.
    if action_id == SHARE_ACTION_ID:
        return f"button:{action_id}:{audit_id}"
    return f"button:{action_id}:{audit_id}:{user_id}"


def _button_enqueue(payload: dict, action: dict, user_id: str) -> None:
    """A button under an answer; its value is an audit row id, checked again in the worker."""
    audit_id = str(action.get("value", ""))
    if not audit_id.isdigit() or len(audit_id) > 18:
        return
    key = _button_key(action["action_id"], audit_id, user_id)
    if delivery_claim(key=key):
        _enqueue(
            BUTTON_TASK,
            key=key,
            action_id=action["action_id"],
            audit_id=int(audit_id),
            slack_user_id=user_id,
            response_url=str(payload.get("response_url", "")),
        )


def slack_action_enqueue(*, payload: dict) -> None:
    """Queue a button click. The user is the signed payload's, never the button's."""
    actions = payload.get("actions")
    action = _dict(actions[0]) if isinstance(actions, list) and actions else {}
    user_id = _dict(payload.get("user")).get("id")
    if payload.get("type") != "block_actions" or not isinstance(user_id, str) or not user_id:
        return
    if action.get("action_id") in ANSWER_ACTION_IDS:
        _button_enqueue(payload, action, user_id)
        return
    if action.get("action_id") != HELP_ACTION_ID:
        return
    key = f"action:{payload.get('trigger_id') or action.get('action_ts')}"
    if delivery_claim(key=key):
        _enqueue(
            HELP_TOOLS_TASK,
            key=key,
            slack_user_id=str(user_id),
            mcp=str(action.get("value", ""))[:100],
            response_url=str(payload.get("response_url", "")),
        )
