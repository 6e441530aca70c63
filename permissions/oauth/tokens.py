"""OAuth access tokens as OMNI2 reads them, and their revocation.

DOT stores only a SHA-256 of each token (COMPLIANT_BCP_RFC9700_TOKEN_STORAGE), so a lookup is
by that checksum. Lookups are memoised per process under the policy version (``core.memo``);
what makes that safe for tokens: a token's revocation deletes its row, and that delete
publishes a new policy version (``permissions.signals``), as does any change to its user; the
expiry is checked on every use. So a revoked token fails on its next call, in every process.
"""

import hashlib
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from core.memo import VersionKeyedMemo
from permissions.models import User
from permissions.policy.snapshot import policy_memo_token

from .resources import canonical_url


@dataclass(frozen=True, slots=True)
class TokenFacts:
    user: User
    client: str  # the client's registered name, else its client_id
    audience: tuple[str, ...]  # canonical RFC 8707 resources it was issued for
    expires_at: float  # epoch seconds


# sha256(token) -> its facts, under the policy version.
_tokens: VersionKeyedMemo[str, TokenFacts] = VersionKeyedMemo("oauth tokens", bound=10_000)
_clock = time.time  # tests move it on instead of sleeping


def oauth_token_facts(*, raw: str) -> TokenFacts | None:
    """The live (unexpired, unrevoked) token ``raw`` of an active user, or None."""
    digest = token_digest(raw)
    facts = _tokens.get_or_build(policy_memo_token(), digest, lambda: _load(digest))
    return facts if facts is not None and facts.expires_at > _clock() else None


def oauth_token_memoised(*, raw: str) -> tuple[str, TokenFacts] | None:
    """(policy version, facts) from this process's memo, without any I/O; None when absent or
    expired. The facts hold only while that version is the live one: the caller checks it."""
    entry = _tokens.peek(token_digest(raw))
    return entry if entry is not None and entry[1].expires_at > _clock() else None


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _load(digest: str) -> TokenFacts | None:
    token = (
        AccessToken.objects.select_related("user__role", "application")
        .filter(token_checksum=digest, user__is_active=True, application__isnull=False)
        .first()
    )
    if token is None or token.is_expired():
        return None
    client = token.application
    return TokenFacts(
        user=token.user,
        client=client.name or client.client_id,
        audience=tuple(filter(None, (canonical_url(url) for url in token.resource or ()))),
        expires_at=token.expires.timestamp(),
    )


@transaction.atomic
def oauth_tokens_revoke(*, user: User | None = None, client: Application | None = None) -> int:
    """Revoke every token (and pending code) of ``user`` or of ``client``; how many access and
    refresh tokens were live. Each revoked access token fails on its next use everywhere."""
    if (user is None) == (client is None):
        raise ValueError("Give a user or a client.")
    match = {"user": user} if user is not None else {"application": client}
    count = 0
    for refresh in RefreshToken.objects.filter(revoked__isnull=True, **match):
        refresh.revoke()  # deletes its access token too
        count += 1
    for access in AccessToken.objects.filter(**match):
        access.revoke()
        count += 1
    Grant.objects.filter(**match).delete()
    return count


def token_revocation_matters(token: AccessToken) -> bool:
    """Whether deleting ``token`` must reach the memos: only a token that could still be used
    (``cleartokens`` deleting expired ones changes nothing anyone may do)."""
    return token.expires > timezone.now()
