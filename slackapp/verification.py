"""Every Slack request is signed; nothing happens until the signature checks out.

slack_sdk's ``SignatureVerifier`` does the HMAC (constant time) and the 5-minute
window. It trusts its inputs, though: ``int()`` of a 5,000-digit timestamp raises,
and a body that is not UTF-8 cannot be decoded. The sanity checks here run first,
so hostile headers get a 401, never a 500.
"""

import functools
import re

from django.conf import settings
from django.views.decorators.csrf import csrf_exempt
from slack_sdk.signature import SignatureVerifier

from core.errors import error_response

_TIMESTAMP = re.compile(r"[0-9]{1,20}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def slack_signature_valid(
    *, body: bytes, timestamp: str | None, signature: str | None, secret: str
) -> bool:
    if not timestamp or not signature:
        return False
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:  # Slack only sends UTF-8; anything else was tampered with
        return False
    return SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature)


def slack_signed(view):
    """Decorate a Slack endpoint: POST only, no CSRF, signature verified before the view runs."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "POST":
            return error_response(405, "method_not_allowed", "Slack endpoints accept POST only.")
        secret = settings.SLACK_SIGNING_SECRET
        if not secret:
            return error_response(
                503, "slack_not_configured", "Slack is not configured on this server."
            )
        valid = slack_signature_valid(
            body=request.body,
            timestamp=request.headers.get("X-Slack-Request-Timestamp"),
            signature=request.headers.get("X-Slack-Signature"),
            secret=secret,
        )
        if not valid:
            return error_response(
                401, "unauthenticated", "The Slack signature is missing or invalid."
            )
        return view(request, *args, **kwargs)

    return wrapped
