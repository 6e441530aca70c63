"""The Slack app manifest in the repository asks for what OMNI2 uses, at one base URL."""

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command


def _manifest(base_url: str) -> dict:
    out = StringIO()
    call_command("slack_manifest", base_url=base_url, stdout=out)
    return yaml.safe_load(out.getvalue())


def test_the_manifest_has_the_scopes_events_and_commands_omni2_uses():
    manifest = _manifest("https://omni2.acme.test")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "im:history",
        "im:read",
        "im:write",
        "users:read",
        "users:read.email",
        "commands",
        "files:write",
    }
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "app_mention",
        "message.im",
    ]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    commands = {c["command"]: c["url"] for c in manifest["features"]["slash_commands"]}
    expected = "https://omni2.acme.test/slack/commands"
    assert commands == dict.fromkeys(["/omni", "/omni-help", "/omni-status"], expected)
    assert (
        manifest["settings"]["event_subscriptions"]["request_url"]
        == "https://omni2.acme.test/slack/events"
    )
    assert manifest["settings"]["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://omni2.acme.test/slack/interactions",
    }


def test_every_url_in_the_manifest_is_served_by_omni2():
    from django.urls import resolve

    manifest = _manifest("https://omni2.acme.test/")
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls.append(manifest["settings"]["event_subscriptions"]["request_url"])
    urls.append(manifest["settings"]["interactivity"]["request_url"])
    for url in urls:
        assert resolve(url.removeprefix("https://omni2.acme.test")).app_name == "slack"


@pytest.mark.parametrize(
    "bad", ["http://omni2.acme.test", "omni2.acme.test", "https://x.test/?a=1"]
)
def test_a_base_url_slack_cannot_call_is_refused(bad):
    with pytest.raises(CommandError):
        _manifest(bad)
