"""import_policy / export_policy: the seed's formats, refusals that name file and entry, round trips."""

import textwrap

import pytest
import yaml
from django.core.management import CommandError, call_command

from permissions.models import GlobalPolicy, McpServer, Role, RoleRestriction, User, UserOverride
from permissions.policy.engine import decide
from permissions.policy.snapshot import policy_snapshot
from permissions.services import discovered_tools_sync

pytestmark = pytest.mark.django_db

GOOD_MCPS = """
global:
  blocked_tools: ["drop_*"]
  admin_only_tools: ["*_history"]
mcps:
  - name: database_mcp
    url: http://db:8300/mcp
    role_restrictions:
      read_only: {allow_only: ["get_*"]}
"""

GOOD_USERS = """
users:
  - email: ann@x.com
    role: dba
  - email: bob@x.com
    role: read_only
    allowed_mcps:
      database_mcp: {mode: custom, tools: ["get_*"]}
"""


def policy_rows():
    """Everything an import could touch, to prove a refused import changed nothing."""
    return (
        sorted(McpServer.objects.values_list("name", "url", "tool_patterns", "enabled")),
        sorted(RoleRestriction.objects.values_list("mcp__name", "role__name", "mode", "patterns")),
        sorted(User.objects.values_list("email", "role__name", "allowed_databases", "is_active")),
        sorted(
            UserOverride.objects.values_list("user__email", "mcp__name", "mode", "tools", "deny")
        ),
        list(
            GlobalPolicy.objects.values_list(
                "blocked_patterns", "admin_only_patterns", "default_decision"
            )
        ),
        sorted(Role.objects.values_list("name", "requests_per_hour", "is_admin")),
    )


def import_files(write_yaml, mcps=None, users=None, replace=False):
    options = {"replace": replace}
    if mcps is not None:
        options["mcps"] = str(write_yaml("mcps.yaml", textwrap.dedent(mcps)))
    if users is not None:
        options["users"] = str(write_yaml("users.yaml", textwrap.dedent(users)))
    call_command("import_policy", **options)


def test_it_imports_the_seed_formats_and_is_idempotent(write_yaml):
    import_files(write_yaml, GOOD_MCPS, GOOD_USERS)
    first = policy_rows()
    import_files(write_yaml, GOOD_MCPS, GOOD_USERS)
    assert policy_rows() == first
    assert GlobalPolicy.load().blocked_patterns == ["drop_*"]
    assert UserOverride.objects.get(user__email="bob@x.com").tools == ["get_*"]
    assert User.objects.get(email="ann@x.com").allowed_databases == [
        "*"
    ]  # omitted means every database


URL = "url: http://db:8300/mcp"
REFUSALS = [
    (
        "mcps",
        GOOD_MCPS.replace("role_restrictions:", "role_restriction:"),
        "mcps[0] (database_mcp)",
        "unknown key 'role_restriction'",
    ),
    (
        "mcps",
        GOOD_MCPS.replace("allow_only:", "allow_onlyy:"),
        "mcps[0] (database_mcp)",
        "role_restrictions.read_only: unknown key 'allow_onlyy'",
    ),
    (
        "mcps",
        GOOD_MCPS.replace("read_only:", "read_onyl:"),
        "mcps[0] (database_mcp)",
        "unknown role 'read_onyl'",
    ),
    (
        "mcps",
        GOOD_MCPS.replace('["get_*"]', '["get *"]'),
        "mcps[0] (database_mcp)",
        "contains whitespace",
    ),
    (
        "mcps",
        GOOD_MCPS.replace("  - name: database_mcp\n", "  - url_only: 1\n"),
        "mcps[0]",
        "unknown key 'url_only'",
    ),
    (
        "mcps",
        GOOD_MCPS.replace("  - name: database_mcp\n", "  - description: x\n"),
        "mcps[0]",
        "missing name",
    ),
    (
        "mcps",
        GOOD_MCPS + "  - name: database_mcp\n    url: http://other\n",
        "mcps[1] (database_mcp)",
        "duplicate MCP name",
    ),
    ("mcps", GOOD_MCPS.replace("global:", "globals:"), "", "unknown key 'globals'"),
    (
        "mcps",
        GOOD_MCPS.replace("url: http://db:8300/mcp", URL + "\n    tool_policy: {mode: allow_some}"),
        "mcps[0] (database_mcp)",
        "unknown mode 'allow_some'",
    ),
    (
        "mcps",
        GOOD_MCPS.replace(
            "url: http://db:8300/mcp", URL + '\n    auth: {type: bearer, token: "${NOPE_UNSET}"}'
        ),
        "mcps[0] (database_mcp)",
        "environment variable NOPE_UNSET is not set",
    ),
    ("mcps", GOOD_MCPS.replace('["drop_*"]', '["drop_*"'), "line", "bad YAML"),
    (
        "mcps",
        GOOD_MCPS.replace(URL, URL + "\n    admin_only: maybe"),
        "mcps[0] (database_mcp)",
        "admin_only: expected true or false, got 'maybe'",
    ),
    (
        "mcps",
        GOOD_MCPS.replace(URL, URL + "\n    admin_only: 1"),
        "mcps[0] (database_mcp)",
        "admin_only: expected true or false, got 1",
    ),
    (
        "users",
        GOOD_USERS.replace("role: read_only", "role: dbaa"),
        "users[1] (bob@x.com)",
        "unknown role 'dbaa'",
    ),
    (
        "users",
        GOOD_USERS.replace("database_mcp: {mode: custom", "nosuch_mcp: {mode: custom"),
        "users[1] (bob@x.com)",
        "unknown MCP 'nosuch_mcp'",
    ),
    (
        "users",
        GOOD_USERS.replace("mode: custom", "mode: custm"),
        "users[1] (bob@x.com)",
        "allowed_mcps.database_mcp.mode: unknown mode 'custm'",
    ),
    (
        "users",
        GOOD_USERS.replace("allowed_mcps:", "allowed_mcp:"),
        "users[1] (bob@x.com)",
        "unknown key 'allowed_mcp'",
    ),
    (
        "users",
        GOOD_USERS + "  - email: ann@x.com\n    role: dba\n",
        "users[2] (ann@x.com)",
        "listed twice",
    ),
    ("users", GOOD_USERS + "  - name: nobody\n    role: dba\n", "users[2]", "missing email"),
    (
        "users",
        "roles:\n  auditor: {default_model: my-local-llama}\n" + GOOD_USERS,
        "roles.auditor",
        "default_model: model 'my-local-llama' is not in OMNI2_ALLOWED_MODELS",
    ),
]


@pytest.mark.parametrize("which, text, entry, problem", REFUSALS)
def test_a_bad_file_is_refused_whole_naming_file_entry_and_problem(
    write_yaml, which, text, entry, problem
):
    import_files(write_yaml, GOOD_MCPS, GOOD_USERS)
    call_command("add_user", email="carol@x.com", role="read_only")
    before = policy_rows()
    with pytest.raises(CommandError) as refused:
        # The bad file comes with a good one that would otherwise change things too.
        if which == "mcps":
            import_files(write_yaml, text, GOOD_USERS.replace("role: dba", "role: admin"))
        else:
            import_files(write_yaml, GOOD_MCPS.replace("drop_*", "truncate_*"), text)
    message = str(refused.value)
    assert message.startswith(f"{write_yaml(f'{which}.yaml', text)}: ")
    assert entry in message and problem in message, message
    assert policy_rows() == before


def test_a_role_default_model_from_the_allow_list_is_imported(write_yaml, settings):
    settings.OMNI2_ALLOWED_MODELS = ["claude-haiku-4-5", "claude-sonnet-4-5"]
    import_files(
        write_yaml,
        GOOD_MCPS,
        "roles:\n  auditor: {default_model: claude-sonnet-4-5}\n" + GOOD_USERS,
    )
    assert Role.objects.get(name="auditor").default_model == "claude-sonnet-4-5"


def test_an_error_in_a_late_entry_leaves_the_earlier_entries_unwritten(write_yaml):
    users = GOOD_USERS + "  - email: late@x.com\n    role: nosuchrole\n"
    with pytest.raises(CommandError, match=r"users\[2\] \(late@x.com\): unknown role 'nosuchrole'"):
        import_files(write_yaml, GOOD_MCPS, users)
    assert not User.objects.filter(email__in=["ann@x.com", "bob@x.com"]).exists()
    assert not McpServer.objects.exists()


def test_variables_are_expanded_and_secrets_stored_encrypted(write_yaml, monkeypatch):
    monkeypatch.setenv("DB_TOKEN", "tok-very-secret")
    monkeypatch.setenv("DB_DSN", "mysql://u:pw@h/db")
    import_files(
        write_yaml,
        GOOD_MCPS.replace(
            "url: http://db:8300/mcp",
            'url: ${DB_URL:-http://fallback:1/mcp}\n    auth: {type: bearer, token: "${DB_TOKEN}"}\n'
            '    env: {DSN: "${DB_DSN}"}',
        ),
    )
    server = McpServer.objects.get(name="database_mcp")
    assert server.url == "http://fallback:1/mcp"
    assert server.connection_secrets() == ("tok-very-secret", {"DSN": "mysql://u:pw@h/db"})
    stored = str(McpServer.objects.filter(pk=server.pk).values().get())
    assert "tok-very-secret" not in stored and "pw@h" not in stored


def test_replace_removes_mcps_and_deactivates_users_the_files_omit(write_yaml):
    import_files(write_yaml, GOOD_MCPS + "  - name: old_mcp\n    command: x\n", GOOD_USERS)
    import_files(write_yaml, GOOD_MCPS, GOOD_USERS.split("  - email: bob@x.com")[0], replace=True)
    assert list(McpServer.objects.values_list("name", flat=True)) == ["database_mcp"]
    assert not User.objects.get(email="bob@x.com").is_active
    assert User.objects.get(email="ann@x.com").is_active


def test_roles_super_admins_and_the_default_user_are_imported(write_yaml):
    import_files(
        write_yaml,
        users="""
        roles:
          auditor: {requests_per_hour: 5, is_admin: false, default_model: null, description: Reads}
        super_admins:
          - {email: Root@X.com, name: Root}
        users: []
        default_user: {role: auditor, allowed_databases: [demo]}
    """,
    )
    assert Role.objects.get(name="auditor").requests_per_hour == 5
    root = User.objects.get(email="root@x.com")
    assert root.role.name == "super_admin" and root.is_superuser and root.is_staff
    default = policy_snapshot().default_user
    assert (default.role, default.allowed_databases.patterns) == ("auditor", ("demo",))


def every_decision():
    snapshot = policy_snapshot()
    subjects = [snapshot.default_user, *snapshot.users_by_email.values()]
    tools = {t for server in snapshot.mcps.values() for t in server.known_tools} | {
        "brand_new",
        "drop_x",
    }
    arguments = [None, {"database": "dev_db"}, {"database": "prod"}, {"target": "prod"}]
    return {
        (subject.email, mcp, tool, str(args)): (d.allowed, d.step, d.pattern, d.code)
        for subject in subjects
        for mcp in [*snapshot.mcps, "nope"]
        for tool in tools
        for args in arguments
        if (d := decide(snapshot, subject, mcp, tool, args))
    }


def test_export_then_import_gives_the_same_decisions(tmp_path, monkeypatch, write_yaml, settings):
    settings.DEBUG = True  # load_demo runs only where `make run` would
    call_command("load_demo")
    import_files(
        write_yaml,
        """
        global: {blocked_tools: [], admin_only_tools: ["compare_*"], default_decision: deny}
        mcps:
          - name: secret_mcp
            url: http://s/mcp
            auth: {type: bearer, token: tok-123}
            database_argument: target
            tool_policy: {mode: allow_all_except, exclude: ["drop_*"]}
            role_restrictions: {read_only: {deny: ["get_b"]}, admin: {allow_all: true}}
    """,
        """
        roles: {auditor: {requests_per_hour: 7, is_admin: false}}
        users:
          - email: aud@x.com
            role: auditor
            slack_user_id: U9
            allowed_mcps: {secret_mcp: {mode: custom, tools: [get_a, "get_*"], deny: [get_c]}}
          - {email: root2@x.com, role: super_admin, allowed_mcps: {secret_mcp: {mode: inherit}}}
        default_user: {role: auditor, allowed_databases: ["dev_*"]}
    """,
    )
    for server in McpServer.objects.all():
        discovered_tools_sync(
            server=server,
            tools=[
                {"name": n}
                for n in ("get_a", "get_b", "get_c", "drop_x", "compare_y_plans", "list_z")
            ],
        )
    before = every_decision()
    call_command("export_policy", out=str(tmp_path / "out"))
    exported = (tmp_path / "out" / "mcps.yaml").read_text()
    assert "tok-123" not in exported and "${SECRET_MCP_TOKEN}" in exported

    McpServer.objects.all().delete()
    User.objects.all().delete()
    GlobalPolicy.objects.all().delete()
    monkeypatch.setenv("SECRET_MCP_TOKEN", "tok-123")
    call_command(
        "import_policy",
        mcps=str(tmp_path / "out" / "mcps.yaml"),
        users=str(tmp_path / "out" / "users.yaml"),
    )
    for server in McpServer.objects.all():
        discovered_tools_sync(
            server=server,
            tools=[
                {"name": n}
                for n in ("get_a", "get_b", "get_c", "drop_x", "compare_y_plans", "list_z")
            ],
        )
    assert every_decision() == before
    assert McpServer.objects.get(name="secret_mcp").connection_secrets()[0] == "tok-123"
    assert (
        yaml.safe_load((tmp_path / "out" / "users.yaml").read_text())["default_user"]["role"]
        == "auditor"
    )


def test_admin_only_survives_an_export_and_import(tmp_path, write_yaml):
    import_files(
        write_yaml,
        GOOD_MCPS.replace(URL, URL + "\n    admin_only: true")
        + "  - name: open_mcp\n    url: http://o/mcp\n",
        GOOD_USERS,
    )
    assert dict(McpServer.objects.values_list("name", "admin_only")) == {
        "database_mcp": True,
        "open_mcp": False,
    }
    call_command("export_policy", out=str(tmp_path / "out"))
    exported = yaml.safe_load((tmp_path / "out" / "mcps.yaml").read_text())
    assert [entry.get("admin_only") for entry in exported["mcps"]] == [True, None]
    McpServer.objects.update(admin_only=False)
    call_command("import_policy", mcps=str(tmp_path / "out" / "mcps.yaml"))
    assert dict(McpServer.objects.values_list("name", "admin_only")) == {
        "database_mcp": True,
        "open_mcp": False,
    }
    discovered_tools_sync(
        server=McpServer.objects.get(name="database_mcp"), tools=[{"name": "list_x"}]
    )
    snapshot = policy_snapshot()
    d = decide(snapshot, snapshot.user(email="ann@x.com"), "database_mcp", "list_x")
    assert (d.allowed, d.step, d.pattern) == (False, 3, "*")  # ann is a dba: not an admin role


def test_the_compose_file_turns_the_demo_s_analytics_into_the_http_service_with_its_token(
    monkeypatch, settings
):
    settings.DEBUG = True  # load_demo runs only in the embedded demo
    monkeypatch.setenv("OMNI2_ANALYTICS_MCP_TOKEN", "compose-token-0042")
    call_command("load_demo")
    call_command("import_policy", mcps=str(settings.BASE_DIR / "config" / "compose" / "mcps.yaml"))
    server = McpServer.objects.get(name="omni2_analytics_mcp")
    assert (server.transport, server.url, server.admin_only) == (
        "http",
        "http://analytics-mcp:8302/mcp",
        True,
    )
    assert server.connection_secrets()[0] == "compose-token-0042"
    assert (
        McpServer.objects.count() == 4 and GlobalPolicy.load().blocked_patterns
    )  # the rest is untouched
