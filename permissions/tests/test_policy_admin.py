"""Django admin for the policy tables: pages render, secrets stay hidden, patterns are validated."""

import pytest

from permissions.models import GlobalPolicy, McpServer, Role, RoleRestriction, User, UserOverride
from permissions.services import discovered_tools_sync

pytestmark = pytest.mark.django_db

TOKEN, ENV_VALUE = "tok-Sup3rSecret-0042", "dsn-pa55word-0042"


@pytest.fixture
def server():
    server = McpServer(name="database_mcp", url="http://db/mcp", description="Databases")
    server.set_bearer_token(TOKEN)
    server.set_env({"DB_DSN": ENV_VALUE})
    server.save()
    discovered_tools_sync(server=server, tools=[{"name": "get_health"}, {"name": "drop_table"}])
    return server


def form_data(response) -> dict:
    """The POST data the change page would send as rendered, inlines included."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False or name in {"bearer_token", "password"}:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    return data


def test_the_mcp_changelist_renders_with_the_explain_link(admin_client, server):
    response = admin_client.get("/admin/permissions/mcpserver/")
    assert response.status_code == 200
    assert (
        b"database_mcp" in response.content
        and b"/admin/permissions/mcpserver/explain/" in response.content
    )
    assert TOKEN.encode() not in response.content


def test_the_change_form_never_shows_a_stored_secret(admin_client, server):
    response = admin_client.get(f"/admin/permissions/mcpserver/{server.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert TOKEN not in body and ENV_VALUE not in body and server.encrypted_bearer_token not in body
    assert "Currently set" in body and "DB_DSN" in body


def test_saving_with_an_empty_token_keeps_it_and_clear_removes_it(admin_client, server):
    url = f"/admin/permissions/mcpserver/{server.pk}/change/"
    data = form_data(admin_client.get(url))
    data["description"] = "Edited"
    assert admin_client.post(url, data).status_code == 302
    server.refresh_from_db()
    assert server.description == "Edited" and server.connection_secrets() == (
        TOKEN,
        {"DB_DSN": ENV_VALUE},
    )

    changed = {**data, "bearer_token": "tok-new", "env_update": "EXTRA=1\nDB_DSN="}
    assert admin_client.post(url, changed).status_code == 302
    server.refresh_from_db()
    assert server.connection_secrets() == ("tok-new", {"EXTRA": "1"})

    assert (
        admin_client.post(url, {**data, "clear_bearer_token": "on", "clear_env": "on"}).status_code
        == 302
    )
    server.refresh_from_db()
    assert server.connection_secrets() == ("", {})


@pytest.mark.parametrize(
    "patterns, problem",
    [
        ("get_*\nget health", "whitespace"),
        ("get_*\n\nlist_*", "empty pattern"),
        ("get_$", "may only use"),
    ],
)
def test_bad_patterns_are_refused_on_save(admin_client, server, patterns, problem):
    url = f"/admin/permissions/mcpserver/{server.pk}/change/"
    data = {
        **form_data(admin_client.get(url)),
        "tool_policy_mode": "allow_only",
        "tool_patterns": patterns,
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200 and problem in response.content.decode()
    server.refresh_from_db()
    assert server.tool_policy_mode == "allow_all"


def test_role_restrictions_and_overrides_are_edited_inline_one_pattern_per_line(
    admin_client, server, make_user
):
    user = make_user(role="developer")
    url = f"/admin/permissions/mcpserver/{server.pk}/change/"
    data = form_data(admin_client.get(url))
    read_only = User._meta.get_field("role").related_model.objects.get(name="read_only")
    data.update(
        {
            "role_restrictions-TOTAL_FORMS": "1",
            "role_restrictions-0-role": read_only.pk,
            "role_restrictions-0-mode": "allow_only",
            "role_restrictions-0-patterns": "get_*\nlist_*\n",
            "user_overrides-TOTAL_FORMS": "1",
            "user_overrides-0-user": user.pk,
            "user_overrides-0-mode": "custom",
            "user_overrides-0-tools": "get_*",
            "user_overrides-0-deny": "get_secret",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert RoleRestriction.objects.get(mcp=server).patterns == ["get_*", "list_*"]
    assert UserOverride.objects.get(user=user).deny == ["get_secret"]


def test_the_user_page_renders_with_overrides_and_databases_one_per_line(
    admin_client, server, make_user
):
    user = make_user(role="developer", allowed_databases=["dev_db", "test_*"])
    UserOverride.objects.create(user=user, mcp=server, mode="custom", tools=["get_*"])
    response = admin_client.get(f"/admin/permissions/user/{user.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "dev_db\ntest_*" in body and "get_*" in body


def test_the_explain_page_shows_every_known_tool_with_step_and_pattern(
    admin_client, server, make_user
):
    GlobalPolicy.objects.create(blocked_patterns=["drop_*"])
    user = make_user(role="developer")
    response = admin_client.get(
        "/admin/permissions/mcpserver/explain/",
        {"user": user.pk, "mcp": server.pk, "tool": "not_yet_seen"},
    )
    assert response.status_code == 200
    rows = {tool: decision for tool, decision in response.context["rows"]}
    assert set(rows) == {"get_health", "drop_table", "not_yet_seen"}
    assert (rows["drop_table"].allowed, rows["drop_table"].step, rows["drop_table"].pattern) == (
        False,
        2,
        "drop_*",
    )
    body = response.content.decode()
    assert "DENY" in body and "ALLOW" in body and "drop_*" in body


def test_the_explain_page_renders_empty_and_for_the_default_user(admin_client, server):
    assert admin_client.get("/admin/permissions/mcpserver/explain/").status_code == 200
    response = admin_client.get(
        "/admin/permissions/mcpserver/explain/", {"user": "", "mcp": server.pk}
    )
    assert b"Default user" in response.content


def test_the_explain_page_is_for_staff_only(client, server):
    response = client.get("/admin/permissions/mcpserver/explain/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_global_policy_list_leads_to_its_single_row(admin_client):
    response = admin_client.get("/admin/permissions/globalpolicy/")
    assert response.status_code == 302
    assert admin_client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    "path", ["roleRestriction", "useroverride", "discoveredtool", "role", "user"]
)
def test_the_other_changelists_render(admin_client, server, path):
    response = admin_client.get(f"/admin/permissions/{path.lower()}/", {"q": "a"})
    assert response.status_code == 200


def test_a_server_is_added_with_a_token_that_is_never_shown_again(admin_client):
    assert admin_client.get("/admin/permissions/mcpserver/add/").status_code == 200
    response = admin_client.post(
        "/admin/permissions/mcpserver/add/",
        {
            "name": "new_mcp",
            "transport": "stdio",
            "command": "python",
            "args": "-m\nexamples.qa_mcp",
            "timeout_seconds": "30",
            "enabled": "on",
            "tool_policy_mode": "allow_all",
            "tool_patterns": "",
            "bearer_token": TOKEN,
            "env_update": f"DB_DSN={ENV_VALUE}",
            "role_restrictions-TOTAL_FORMS": "0",
            "role_restrictions-INITIAL_FORMS": "0",
            "user_overrides-TOTAL_FORMS": "0",
            "user_overrides-INITIAL_FORMS": "0",
            "tools-TOTAL_FORMS": "0",
            "tools-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    server = McpServer.objects.get(name="new_mcp")
    assert server.args == ["-m", "examples.qa_mcp"]
    assert server.connection_secrets() == (TOKEN, {"DB_DSN": ENV_VALUE})
    page = admin_client.get(f"/admin/permissions/mcpserver/{server.pk}/change/").content.decode()
    assert TOKEN not in page and ENV_VALUE not in page


def test_a_stdio_server_without_a_command_is_refused(admin_client):
    response = admin_client.post(
        "/admin/permissions/mcpserver/add/",
        {
            "name": "bad_mcp",
            "transport": "stdio",
            "timeout_seconds": "30",
            "tool_policy_mode": "allow_all",
            "role_restrictions-TOTAL_FORMS": "0",
            "role_restrictions-INITIAL_FORMS": "0",
            "user_overrides-TOTAL_FORMS": "0",
            "user_overrides-INITIAL_FORMS": "0",
            "tools-TOTAL_FORMS": "0",
            "tools-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200 and "needs a command" in response.content.decode()
    assert not McpServer.objects.filter(name="bad_mcp").exists()


def test_a_role_default_model_off_the_allow_list_is_refused(admin_client, settings):
    settings.OMNI2_ALLOWED_MODELS = ["claude-haiku-4-5"]
    role = {"name": "auditor", "description": "", "requests_per_hour": "5"}

    refused = admin_client.post(
        "/admin/permissions/role/add/", {**role, "default_model": "my-local-llama"}
    )
    assert refused.status_code == 200
    assert (
        "model &#x27;my-local-llama&#x27; is not in OMNI2_ALLOWED_MODELS"
        in refused.content.decode()
    )
    assert not Role.objects.filter(name="auditor").exists()
    assert (
        admin_client.post(
            "/admin/permissions/role/add/", {**role, "default_model": "claude-haiku-4-5"}
        ).status_code
        == 302
    )
    assert Role.objects.get(name="auditor").default_model == "claude-haiku-4-5"


def test_admin_only_is_set_on_the_server_form_and_shown_in_the_list(
    admin_client, server, make_user
):
    page = admin_client.get(f"/admin/permissions/mcpserver/{server.pk}/change/")
    data = form_data(page) | {"admin_only": "on"}
    response = admin_client.post(f"/admin/permissions/mcpserver/{server.pk}/change/", data)
    assert response.status_code == 302, response.context and response.context["errors"]
    server.refresh_from_db()
    assert server.admin_only is True
    assert (
        admin_client.get("/admin/permissions/mcpserver/?admin_only__exact=1")
        .context["cl"]
        .result_count
        == 1
    )
    from permissions.policy.engine import decide
    from permissions.policy.snapshot import policy_snapshot

    make_user(role="read_only", email="r@x.com")
    snapshot = policy_snapshot()
    assert decide(snapshot, snapshot.user(email="r@x.com"), "database_mcp", "get_health").step == 3
