"""Profiles (virtual servers): the engine's narrowing, YAML, admin, validate_policy, and API keys
bound to a profile at the MCP endpoint."""

import textwrap
from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db.models import ProtectedError

from permissions.models import ApiKey, McpProfile, McpServer
from permissions.oauth.resources import McpResource
from permissions.policy.engine import (
    permitted_tools,
    profile_allows,
    profile_narrow,
    profile_pattern_problem,
    snapshot_build,
)
from permissions.policy.snapshot import policy_snapshot
from permissions.policy.yaml_io import policy_import
from permissions.policy.yaml_spec import PolicyFileError, mcps_file_parse
from permissions.services import api_key_create, api_key_revoke, bearer_authenticate

DATA = {
    "global": {"blocked": ["drop_*"]},
    "mcps": [
        {"name": "database_mcp", "tools": ["get_health", "get_top", "list_dbs", "drop_db"]},
        {"name": "qa_mcp", "tools": ["list_reports", "compare_csv"]},
    ],
    "profiles": [
        {"name": "db-readonly", "tools": ["database_mcp.get_*", "database_mcp.list_*"]},
        {"name": "lists", "tools": ["*.list_*"]},
        {"name": "dropper", "tools": ["database_mcp.drop_*"]},
        {"name": "empty", "tools": []},
    ],
}


# --- the engine: pure, no database -------------------------------------------------------------


@pytest.fixture
def snapshot():
    return snapshot_build(DATA)


def test_a_profile_keeps_only_the_permitted_tools_its_patterns_match(snapshot):
    permitted = permitted_tools(snapshot, snapshot.default_user)
    assert ("database_mcp", "drop_db") not in permitted  # blocked
    assert profile_narrow(snapshot, "db-readonly", permitted) == [
        ("database_mcp", "get_health"),
        ("database_mcp", "get_top"),
        ("database_mcp", "list_dbs"),
    ]
    assert profile_narrow(snapshot, "lists", permitted) == [
        ("database_mcp", "list_dbs"),
        ("qa_mcp", "list_reports"),
    ]


def test_a_profile_never_adds_a_tool_the_policy_denies(snapshot):
    permitted = permitted_tools(snapshot, snapshot.default_user)
    assert profile_narrow(snapshot, "dropper", permitted) == []
    assert profile_allows(snapshot, "dropper", "database_mcp", "drop_db")  # its pattern matches…
    assert ("database_mcp", "drop_db") not in permitted  # …but narrowing starts from the policy


def test_no_profile_keeps_everything_and_an_unknown_or_empty_one_nothing(snapshot):
    permitted = permitted_tools(snapshot, snapshot.default_user)
    assert profile_narrow(snapshot, None, permitted) == permitted
    assert profile_narrow(snapshot, "no-such-profile", permitted) == []
    assert profile_narrow(snapshot, "empty", permitted) == []


def test_the_mcp_and_tool_parts_match_separately(snapshot):
    assert profile_allows(snapshot, "lists", "qa_mcp", "list_reports")
    assert not profile_allows(snapshot, "db-readonly", "database_mcp_2", "get_health")
    assert not profile_allows(snapshot, "db-readonly", "qa_mcp", "get_health")


@pytest.mark.parametrize(
    "pattern, ok",
    [
        ("database_mcp.get_*", True),
        ("*.*", True),
        ("*.list_*", True),
        ("*", False),  # no dot: write mcp.tool
        ("get_*", False),
        ("database_mcp.get *", False),
        ("database_mcp.", False),
        (7, False),
    ],
)
def test_profile_patterns_are_mcp_dot_tool(pattern, ok):
    assert (profile_pattern_problem(pattern) is None) is ok


# --- YAML ------------------------------------------------------------------------------------

PROFILES_YAML = """
mcps:
  - name: database_mcp
    url: http://db:8300/mcp
profiles:
  - {name: db-readonly, tools: ["database_mcp.get_*", "database_mcp.list_*"]}
  - name: lists
    description: Every list tool
    tools: ["*.list_*"]
"""


def parse(write_yaml, text: str):
    return mcps_file_parse(write_yaml("mcps.yaml", textwrap.dedent(text)))


@pytest.mark.django_db
def test_profiles_round_trip_through_yaml(write_yaml, tmp_path):
    summary = policy_import(mcps=parse(write_yaml, PROFILES_YAML))
    assert {"profile db-readonly", "profile lists"} <= set(summary.created)
    assert policy_snapshot().profiles["lists"].description == "Every list tool"
    call_command("export_policy", out=str(tmp_path / "out"))
    exported = yaml.safe_load((tmp_path / "out" / "mcps.yaml").read_text())
    assert exported["profiles"] == [
        {"name": "db-readonly", "tools": ["database_mcp.get_*", "database_mcp.list_*"]},
        {"name": "lists", "tools": ["*.list_*"], "description": "Every list tool"},
    ]
    McpProfile.objects.all().delete()
    policy_import(mcps=mcps_file_parse(tmp_path / "out" / "mcps.yaml"))
    assert dict(McpProfile.objects.values_list("name", "tools")) == {
        "db-readonly": ["database_mcp.get_*", "database_mcp.list_*"],
        "lists": ["*.list_*"],
    }


@pytest.mark.django_db
def test_replace_removes_profiles_the_file_omits_but_not_one_a_key_is_bound_to(
    write_yaml, make_user
):
    policy_import(mcps=parse(write_yaml, PROFILES_YAML))
    fewer = PROFILES_YAML.split("  - name: lists")[0]
    policy_import(mcps=parse(write_yaml, fewer), replace=True)
    assert list(McpProfile.objects.values_list("name", flat=True)) == ["db-readonly"]

    api_key_create(user=make_user(), profile=McpProfile.objects.get(name="db-readonly"))
    with pytest.raises(PolicyFileError, match="API keys are bound to it"):
        policy_import(mcps=parse(write_yaml, "profiles: []\n"), replace=True)
    assert McpProfile.objects.filter(name="db-readonly").exists()


@pytest.mark.django_db
def test_a_file_without_profiles_leaves_them_alone(write_yaml):
    policy_import(mcps=parse(write_yaml, PROFILES_YAML))
    policy_import(mcps=parse(write_yaml, "mcps: []\n"), replace=True)
    assert McpProfile.objects.count() == 2


@pytest.mark.parametrize(
    "text, problem",
    [
        ("profiles: [{tools: []}]", "profiles[0]: missing name"),
        ("profiles: [{name: 'bad name'}]", "bad name 'bad name'"),
        ("profiles: [{name: p, tools: ['get_*']}]", "profiles[0] (p): tools: pattern 'get_*'"),
        ("profiles: [{name: p, tool: []}]", "unknown key 'tool'"),
        ("profiles: [{name: p}, {name: p}]", "duplicate profile name"),
        ("profiles: {name: p}", "profiles: expected a list"),
    ],
)
def test_a_bad_profile_entry_names_file_entry_and_problem(write_yaml, text, problem):
    with pytest.raises(PolicyFileError) as raised:
        parse(write_yaml, text)
    assert problem in str(raised.value)


# --- admin, validate_policy, the demo -----------------------------------------------------------


@pytest.mark.django_db
def test_a_profile_is_added_in_admin_one_pattern_per_line(admin_client):
    response = admin_client.post(
        "/admin/permissions/mcpprofile/add/",
        {"name": "db-readonly", "description": "", "tools": "database_mcp.get_*\r\n*.list_*"},
    )
    assert response.status_code == 302, response.content
    assert McpProfile.objects.get().tools == ["database_mcp.get_*", "*.list_*"]
    assert policy_snapshot().profiles["db-readonly"].patterns == ("database_mcp.get_*", "*.list_*")
    assert admin_client.get("/admin/permissions/mcpprofile/").status_code == 200


@pytest.mark.django_db
def test_admin_refuses_a_pattern_that_is_not_mcp_dot_tool(admin_client):
    response = admin_client.post(
        "/admin/permissions/mcpprofile/add/", {"name": "p", "tools": "get_*"}
    )
    assert response.status_code == 200
    assert "line 1: pattern" in response.content.decode()
    assert not McpProfile.objects.exists()


@pytest.mark.django_db
def test_an_api_key_is_bound_to_a_profile_in_admin(admin_client, make_user):
    profile = McpProfile.objects.create(name="db-readonly", tools=["database_mcp.get_*"])
    user = make_user()
    response = admin_client.post(
        "/admin/permissions/apikey/add/", {"user": user.pk, "name": "ci", "profile": profile.pk}
    )
    assert response.status_code == 200  # the page that shows the new key once
    assert ApiKey.objects.get().profile == profile


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=None)
    from permissions.services import discovered_tools_sync

    discovered_tools_sync(
        server=McpServer.objects.get(name="database_mcp"),
        tools=[{"name": n} for n in ("get_database_health", "list_available_databases", "x_y")],
    )


@pytest.mark.django_db
def test_the_demo_ships_a_profile_and_validate_policy_shows_it(demo):
    out, err = StringIO(), StringIO()
    call_command(
        "validate_policy",
        user="dba@company.com",  # role dba: every database_mcp tool
        mcp="database_mcp",
        profile="db-readonly",
        stdout=out,
        stderr=err,
    )
    lines = dict(line.split(" ", 1) for line in out.getvalue().splitlines())
    assert lines["get_database_health"].startswith("ALLOW")
    assert lines["x_y"].startswith("DENY step=0 pattern=- The policy allows it, but profile")
    assert "profile db-readonly: 2 of this user's" in err.getvalue()


@pytest.mark.django_db
def test_validate_policy_refuses_an_unknown_profile(demo):
    with pytest.raises(CommandError, match="No profile named"):
        call_command("validate_policy", user="x@y.z", profile="nope", stdout=StringIO())


# --- API keys bound to a profile at the MCP endpoint ------------------------------------------

BASE = "https://omni2.example.com"


@pytest.mark.django_db
def test_an_unbound_key_works_at_mcp_and_at_any_profile(make_user):
    McpProfile.objects.create(name="db-readonly", tools=["database_mcp.get_*"])
    user = make_user()
    _, raw = api_key_create(user=user, name="laptop")
    caller = bearer_authenticate(raw=raw, resource=McpResource.at(BASE))
    assert (caller.user, caller.profile, caller.how, caller.client) == (
        user,
        None,
        "api_key",
        "laptop",
    )
    at_profile = bearer_authenticate(raw=raw, resource=McpResource.at(BASE, "db-readonly"))
    assert at_profile.profile == "db-readonly"


@pytest.mark.django_db
def test_a_bound_key_sees_its_profile_wherever_it_is_used_and_no_other(make_user):
    bound = McpProfile.objects.create(name="db-readonly", tools=["database_mcp.get_*"])
    McpProfile.objects.create(name="lists", tools=["*.list_*"])
    key, raw = api_key_create(user=make_user(), profile=bound)
    assert bearer_authenticate(raw=raw, resource=McpResource.at(BASE)).profile == "db-readonly"
    at_own = bearer_authenticate(raw=raw, resource=McpResource.at(BASE, "db-readonly"))
    assert at_own.profile == "db-readonly"
    assert bearer_authenticate(raw=raw, resource=McpResource.at(BASE, "lists")) is None
    assert key.name == "" and at_own.client == f"key {key.prefix}"


@pytest.mark.django_db
def test_rebinding_or_revoking_a_key_applies_on_its_next_use(make_user):
    profile = McpProfile.objects.create(name="db-readonly", tools=["database_mcp.get_*"])
    key, raw = api_key_create(user=make_user())
    resource = McpResource.at(BASE)
    assert bearer_authenticate(raw=raw, resource=resource).profile is None  # memoised now
    key.profile = profile
    key.save()
    assert bearer_authenticate(raw=raw, resource=resource).profile == "db-readonly"
    api_key_revoke(key=key)
    assert bearer_authenticate(raw=raw, resource=resource) is None


@pytest.mark.django_db
def test_a_profile_with_keys_bound_cannot_be_deleted(make_user):
    profile = McpProfile.objects.create(name="db-readonly", tools=["database_mcp.get_*"])
    api_key_create(user=make_user(), profile=profile)
    with pytest.raises(ProtectedError):
        profile.delete()


@pytest.mark.django_db
def test_garbage_and_unknown_bearers_are_refused(make_user):
    resource = McpResource.at(BASE)
    for raw in ("", "omni2_deadbeef_nope", "not-a-token", "x" * 5000):
        assert bearer_authenticate(raw=raw, resource=resource) is None
