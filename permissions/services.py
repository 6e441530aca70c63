"""Writes on identity (users, API keys) and on policy rows that bulk writes touch."""

import copy
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.memo import VersionKeyedMemo, shareable
from permissions.policy.snapshot import policy_changed, policy_memo_token

from .models import ApiKey, DiscoveredTool, McpServer, Role, User, hash_api_key

API_KEY_PREFIX = "omni2_"
_ALPHABET = string.ascii_letters + string.digits


def new_api_key_secret(key: ApiKey) -> str:
    """Give an unsaved key its prefix and hash; return the raw key, which is never stored."""
    prefix = secrets.token_hex(4)
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(32))  # ~190 bits
    raw = f"{API_KEY_PREFIX}{prefix}_{secret}"
    key.prefix, key.key_hash = prefix, hash_api_key(raw)
    return raw


def api_key_create(*, user: User, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for ``user``. The raw key is returned once and never stored."""
    key = ApiKey(user=user, name=name)
    raw = new_api_key_secret(key)
    key.save()
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


@dataclass
class _KnownKey:
    """What the memo keeps of an active key."""

    user: User
    key_id: int
    touched: float = float("-inf")  # time.monotonic() of this process's last last_used_at write


# key hash -> its user, under the policy token (core.memo): saves a query per request.
_keys: VersionKeyedMemo[str, _KnownKey] = VersionKeyedMemo("api keys", bound=10_000)
_TOUCH_EVERY_SECONDS = 60


def api_key_authenticate(*, raw: str) -> User | None:
    """The active user behind a raw key, or None. Touches ``last_used_at`` at most once a minute.

    Lookups are memoised per process under the policy token, which any change to a key, a
    user or a role replaces (``permissions.signals``): a revoked key fails everywhere at once.
    """
    if not _plausible_key(raw):
        return None
    digest, token = hash_api_key(raw), policy_memo_token()
    known = _keys.get_or_build(token, digest, lambda: _key_lookup(digest))
    if known is None:
        return None
    if shareable(token):  # the minute is counted on the memoised entry; unmemoised, no write
        _touch(known)
    return copy.copy(known.user)  # views may set attributes on request.user; keep the memo clean


def api_key_memoised(*, raw: str) -> tuple[str, User] | None:
    """(policy token, user) for a raw key from this process's memo, without any I/O; None when
    it is not memoised or its ``last_used_at`` is due (``api_key_authenticate`` does both). The
    user is valid only while that token is the live one: the caller checks it (one Redis round
    trip on the event-loop path, with the rate limit) and otherwise takes the full check."""
    if not _plausible_key(raw):
        return None
    entry = _keys.peek(hash_api_key(raw))
    if entry is None or time.monotonic() - entry[1].touched > _TOUCH_EVERY_SECONDS:
        return None
    return entry[0], copy.copy(entry[1].user)


def _plausible_key(raw: str) -> bool:
    return raw.startswith(API_KEY_PREFIX) and len(raw) <= 128


def _key_lookup(digest: str) -> _KnownKey | None:
    key = (
        ApiKey.objects.select_related("user", "user__role")
        .filter(key_hash=digest, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    return None if key is None else _KnownKey(user=key.user, key_id=key.pk)


def _touch(known: _KnownKey) -> None:
    now = time.monotonic()
    if now - known.touched > _TOUCH_EVERY_SECONDS:
        known.touched = now
        # An update, not a save: no signal, so no new policy token.
        ApiKey.objects.filter(pk=known.key_id).update(last_used_at=timezone.now())


def user_slack_id_link(*, user: User, slack_user_id: str) -> bool:
    """Store ``slack_user_id`` on ``user`` (found by the e-mail of that Slack profile). False when
    another account, an inactive one, already holds that id: both are left alone."""
    previous, user.slack_user_id = user.slack_user_id, slack_user_id
    try:
        with transaction.atomic():
            user.save(update_fields=["slack_user_id"])  # a save, so the policy cache hears of it
    except IntegrityError:
        user.slack_user_id = previous
        return False
    return True


@transaction.atomic
def user_create(
    *,
    email: str,
    role: str | Role | None = None,
    name: str = "",
    slack_user_id: str | None = None,
    allowed_databases: list[str] | None = None,
    is_staff: bool = False,
) -> User:
    fields = {"name": name, "slack_user_id": slack_user_id or None, "is_staff": is_staff}
    if allowed_databases is not None:
        fields["allowed_databases"] = allowed_databases
    return User.objects.create_user(email, role=role, **fields)


# --- Policy writes that bypass model signals ----------------------------------------------


@transaction.atomic
def discovered_tools_sync(*, server: McpServer, tools: Iterable[Mapping]) -> int:
    """Make ``server``'s discovered tools exactly ``tools`` (dicts with name, description,
    input_schema). Returns how many there are now. One snapshot invalidation, not one per row."""
    now = timezone.now()
    rows = {
        t["name"]: DiscoveredTool(
            mcp=server,
            name=t["name"],
            description=t.get("description") or "",
            input_schema=t.get("input_schema") or {},
            last_seen=now,
        )
        for t in tools
    }
    DiscoveredTool.objects.filter(mcp=server).exclude(name__in=list(rows)).delete()
    DiscoveredTool.objects.bulk_create(
        rows.values(),
        update_conflicts=True,
        unique_fields=["mcp", "name"],
        update_fields=["description", "input_schema", "last_seen"],
    )
    policy_changed()
    return len(rows)
