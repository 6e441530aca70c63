"""The one boundary to Slack's Web API and to slash-command ``response_url``s.

Everything outbound goes through ``slack_call`` / ``slack_respond``; slack_sdk's retry
handlers own the retries (429 honoured with ``Retry-After``, connection resets), and
every failure comes out as :class:`SlackError` with a ``permanent`` flag.
"""

import functools
import logging
from urllib.error import URLError

from django.conf import settings
from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

logger = logging.getLogger(__name__)

BOT_USER_CACHE_KEY = "slack:bot_user_id"
BOT_USER_TTL = 3600
TIMEOUT_SECONDS = 15


class SlackError(Exception):
    """A Slack call failed. ``permanent``: retrying the same call will not help."""

    def __init__(self, message: str, *, permanent: bool = False, code: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.code = code


def _retry_handlers() -> list:
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
    ]


@functools.lru_cache(maxsize=4)
def _web_client(token: str, base_url: str) -> WebClient:
    return WebClient(
        token=token, base_url=base_url, timeout=TIMEOUT_SECONDS, retry_handlers=_retry_handlers()
    )


def slack_client() -> WebClient:
    """One client per process (per token and base URL, which tests may change)."""
    if not settings.SLACK_BOT_TOKEN:
        raise SlackError("SLACK_BOT_TOKEN is not set.", permanent=True, code="not_configured")
    return _web_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL)


def slack_call(method: str, **kwargs) -> dict:
    """Call a WebClient method by name (``chat_postMessage``…) and return the response data."""
    try:
        return getattr(slack_client(), method)(**kwargs).data
    except SlackApiError as exc:
        status = exc.response.status_code
        code = exc.response.get("error", "") if isinstance(exc.response.data, dict) else ""
        # 429 after the handler's retries and 5xx are Slack's trouble; anything else is ours.
        permanent = status < 500 and status != 429
        raise SlackError(
            f"Slack {method} failed: {code or status}", permanent=permanent, code=code
        ) from exc
    except (SlackClientError, URLError, OSError) as exc:
        raise SlackError(
            f"Slack {method} failed: {exc.__class__.__name__}", permanent=False
        ) from exc


def slack_respond(*, response_url: str, payload: dict) -> None:
    """POST a message to a slash command's or a click's ``response_url``."""
    try:
        webhook = WebhookClient(
            response_url, timeout=TIMEOUT_SECONDS, retry_handlers=_retry_handlers()
        )
        response = webhook.send_dict(payload)
    except (SlackClientError, URLError, OSError) as exc:
        raise SlackError(f"response_url failed: {exc.__class__.__name__}", permanent=False) from exc
    if response.status_code != 200:
        permanent = response.status_code < 500 and response.status_code != 429
        raise SlackError(f"response_url answered {response.status_code}", permanent=permanent)


def slack_bot_user_id() -> str:
    """OMNI2's own Slack user id (auth.test), cached so its messages are recognised cheaply."""
    user_id = cache.get(BOT_USER_CACHE_KEY)
    if not user_id:
        user_id = slack_call("auth_test")["user_id"]
        cache.set(BOT_USER_CACHE_KEY, user_id, BOT_USER_TTL)
    return user_id


def slack_user_email(*, slack_user_id: str) -> str | None:
    """The e-mail on a Slack profile (``users:read.email``), or None if Slack has none."""
    try:
        data = slack_call("users_info", user=slack_user_id)
    except SlackError as exc:
        if exc.permanent:  # user_not_found, missing scope: fall back to the default user
            logger.info("slack: users.info for %s failed: %s", slack_user_id, exc.code)
            return None
        raise
    email = (data.get("user") or {}).get("profile", {}).get("email") or ""
    # OMNI2 stores e-mails stripped and lower-cased; Slack keeps whatever the person typed.
    return email.strip().lower() or None
