"""Writes on identity (users, API keys) and on policy rows that bulk writes touch; who a
bearer credential speaks for (``bearer_authenticate``)."""

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

from .models import ApiKey, DiscoveredTool, McpProfile, McpServer, Role, User, hash_api_key
from .oauth.resources import McpResource, audience_allows
from .oauth.tokens import TokenFacts, oauth_token_facts, oauth_token_memoised

API_KEY_PREFIX = "omni2_"
_ALPHABET = string.ascii_letters + string.digits


def new_api_key_secret(key: ApiKey) -> str:
    """Give an unsaved key its prefix and hash; return the raw key, which is never stored."""
    prefix = secrets.token_hex(4)
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(32))  # ~190 bits
    raw = f"{API_KEY_PREFIX}{prefix}_{secret}"
    key.prefix, key.key_hash = prefix, hash_api_key(raw)
    return raw


def api_key_create(
    *, user: User, name: str = "", profile: McpProfile | None = None
) -> tuple[ApiKey, str]:
    """Create a key for ``user`` (bound to ``profile`` when given: then it sees only that
    profile's tools). The raw key is returned once and never stored."""
    key = ApiKey(user=user, name=name, profile=profile)
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


# --- Bearer credentials at the MCP endpoint (issue 15): an API key or an OAuth token --------


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a bearer credential speaks for at an MCP endpoint.

    ``profile``: the profile that narrows what this caller sees (``profile_narrow``), or None
    for everything the user may do: the endpoint's own (``/mcp/<profile>``), or the one the API
    key is bound to. ``how``: "api_key" or "oauth". ``client``: the key's name (else its
    prefix) or the OAuth client's registered name, for the audit trail.
    """

    user: User
    profile: str | None
    how: str
    client: str


def bearer_authenticate(*, raw: str, resource: McpResource) -> Caller | None:
    """The caller behind ``Authorization: Bearer <raw>`` at the MCP endpoint ``resource``, or
    None (a 401: answer it with ``permissions.oauth.resources.www_authenticate(resource)``).

    An OMNI2 API key of an active user is good at ``/mcp`` and, when bound to a profile, only at
    that profile's URL; unbound, at any profile. An OAuth access token is good while unexpired
    and unrevoked, for an active user, at the resource it was issued for (``audience_allows``).
    Both are memoised per process under the policy version: a revocation is seen at once.
    """
    if _plausible_key(raw):
        user = api_key_authenticate(raw=raw)
        binding = _key_binding(raw) if user is not None else None
        return _key_caller(user, binding, resource) if binding is not None else None
    facts = oauth_token_facts(raw=raw)
    return _token_caller(facts, resource) if facts is not None else None


def bearer_memoised(*, raw: str, resource: McpResource) -> tuple[str, Caller] | None:
    """(policy version, caller) from this process's memos, without any I/O; None when not all
    of it is there (then ``bearer_authenticate``, which fills them). The caller holds only
    while that version is the live one: the event-loop path checks it, as for API keys."""
    if _plausible_key(raw):
        memo = api_key_memoised(raw=raw)
        binding = _bindings.get(memo[0], hash_api_key(raw)) if memo is not None else None
        if binding is None:
            return None
        caller = _key_caller(memo[1], binding, resource)
        return (memo[0], caller) if caller is not None else None
    hit = oauth_token_memoised(raw=raw)
    caller = _token_caller(hit[1], resource) if hit is not None else None
    return (hit[0], caller) if caller is not None else None


@dataclass(frozen=True, slots=True)
class _KeyBinding:
    profile: str | None  # the profile the key is bound to
    label: str  # its name, else "key <prefix>"


# key hash -> its binding, under the policy version (core.memo): any change to a key or a
# profile publishes a new version (permissions.signals), so a rebound key is seen at once.
_bindings: VersionKeyedMemo[str, _KeyBinding] = VersionKeyedMemo("api key profiles", bound=10_000)


def _key_binding(raw: str) -> _KeyBinding | None:
    digest = hash_api_key(raw)
    return _bindings.get_or_build(policy_memo_token(), digest, lambda: _binding_lookup(digest))


def _binding_lookup(digest: str) -> _KeyBinding | None:
    row = ApiKey.objects.filter(key_hash=digest).values("profile__name", "name", "prefix").first()
    if row is None:
        return None
    return _KeyBinding(row["profile__name"], row["name"] or f"key {row['prefix']}")


def _key_caller(user: User, binding: _KeyBinding, resource: McpResource) -> Caller | None:
    bound, label = binding.profile, binding.label
    # A key bound to profile A is refused at /mcp/B (as a token for another resource is),
    # rather than intersected: its holder was given A, and B's URL would only confuse.
    if bound is not None and resource.profile not in (None, bound):
        return None
    return Caller(copy.copy(user), resource.profile or bound, "api_key", label)


def _token_caller(facts: TokenFacts, resource: McpResource) -> Caller | None:
    if not audience_allows(facts.audience, resource):
        return None
    return Caller(copy.copy(facts.user), resource.profile, "oauth", facts.client)
