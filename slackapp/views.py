"""Slack's three endpoints. Verify (decorator), decide and queue (intake), answer 200 fast."""

import json

from django.http import HttpResponse, JsonResponse

from core.errors import error_response
from core.metrics import SLACK_ACKNOWLEDGED

from . import intake
from .dedupe import DeliveryStoreUnavailable
from .verification import slack_signed

# Either way nothing was queued and the delivery is not claimed, so Slack's retry is answered.
_NOT_NOW = (intake.SlackUnavailable, DeliveryStoreUnavailable)


def _unavailable() -> JsonResponse:
    # 503 makes Slack deliver again later; the claim was released, so that retry is answered.
    return error_response(503, "unavailable", "OMNI2 cannot take Slack requests right now.")


def _json(raw: str | bytes):
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@slack_signed
def events(request):
    payload = _json(request.body)
    if payload is None:
        return error_response(400, "invalid_request", "The body is not a JSON object.")
    if payload.get("type") == "url_verification":
        return JsonResponse({"challenge": str(payload.get("challenge", ""))})
    if payload.get("type") != "event_callback":
        return HttpResponse(status=200)
    try:
        intake.slack_event_enqueue(payload=payload)
    except _NOT_NOW:
        return _unavailable()
    SLACK_ACKNOWLEDGED.labels("event").inc()
    return HttpResponse(status=200)


@slack_signed
def commands(request):
    try:
        body = intake.slack_command_enqueue(form=request.POST.dict())
    except _NOT_NOW:
        return _unavailable()
    SLACK_ACKNOWLEDGED.labels("command").inc()
    return JsonResponse(body) if body else HttpResponse(status=200)


@slack_signed
def interactions(request):
    payload = _json(request.POST.get("payload", ""))
    if payload is None:
        return error_response(400, "invalid_request", "The payload field is not a JSON object.")
    try:
        intake.slack_action_enqueue(payload=payload)
    except _NOT_NOW:
        return _unavailable()
    SLACK_ACKNOWLEDGED.labels("interaction").inc()
    return HttpResponse(status=200)
