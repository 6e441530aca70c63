"""The shared snapshot: one version for every process, replaced the moment a row changes."""

import os
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection, transaction

from core.memo import memos
from orchestration.mcp import discovery  # noqa: F401  (declares its memo on import)
from orchestration.mcp.catalog import catalog, catalog_memoised
from permissions.models import GlobalPolicy, McpServer, PolicyVersion, User
from permissions.policy.snapshot import VERSION_KEY, policy_pinned, policy_snapshot, policy_version
from permissions.selectors import user_policy_for
from permissions.services import discovered_tools_sync, user_create
from testing.celery_worker import database_url_for_tests


class Probe:
    """A second process asking for decisions; it keeps its snapshot warm between questions."""

    def __init__(self):
        env = {**os.environ, "DATABASE_URL": database_url_for_tests()}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "permissions.tests.policy_probe"],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def ask(self, email, mcp, tool) -> tuple[str, str]:
        self.proc.stdin.write(f"{email} {mcp} {tool}\n")
        self.proc.stdin.flush()
        word, step, version = self.proc.stdout.readline().split()
        return word, version

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def probe():
    process = Probe()
    yield process
    process.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_a_second_process_sees_an_admin_edit_at_once(admin_client, probe):
    user_create(email="dev@x.com", role="developer")
    server = McpServer.objects.create(name="db_mcp", url="http://db/mcp")
    discovered_tools_sync(server=server, tools=[{"name": "get_secrets"}])
    assert probe.ask("dev@x.com", "db_mcp", "get_secrets")[0] == "ALLOW"
    warm = probe.ask("dev@x.com", "db_mcp", "get_secrets")

    response = admin_client.post(
        f"/admin/permissions/globalpolicy/{GlobalPolicy.load().pk}/change/",
        {
            "blocked_patterns": "get_secrets",
            "admin_only_patterns": "",
            "default_decision": "allow",
            "default_role": "",
            "default_allowed_databases": "",
        },
    )
    assert response.status_code == 302, response.content

    word, version = probe.ask("dev@x.com", "db_mcp", "get_secrets")
    assert word == "DENY" and version != warm[1]
    assert version == policy_version()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_a_second_process_sees_a_new_user_and_a_role_change(probe):
    server = McpServer.objects.create(name="db_mcp", url="http://db/mcp")
    discovered_tools_sync(server=server, tools=[{"name": "get_x"}])
    GlobalPolicy.objects.create(admin_only_patterns=["get_*"])
    assert probe.ask("new@x.com", "db_mcp", "get_x")[0] == "DENY"  # the default user
    user = user_create(email="new@x.com", role="admin")
    assert probe.ask("new@x.com", "db_mcp", "get_x")[0] == "ALLOW"
    user.role = user.role.__class__.objects.get(name="read_only")
    user.save()
    assert probe.ask("new@x.com", "db_mcp", "get_x")[0] == "DENY"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_every_change_sets_a_new_random_version():
    first = policy_version()
    server = McpServer.objects.create(name="a_mcp", url="http://a/mcp")
    second = policy_version()
    server.delete()
    third = policy_version()
    assert len({first, second, third}) == 3 and all(len(v) == 32 for v in (first, second, third))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_a_warm_snapshot_is_reused_until_the_version_changes(django_assert_num_queries):
    McpServer.objects.create(name="a_mcp", url="http://a/mcp")
    snapshot = policy_snapshot()
    with django_assert_num_queries(0):
        assert policy_snapshot() is snapshot
    cache.set(VERSION_KEY, "someone-else-changed-it")
    assert policy_snapshot() is not snapshot


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_a_change_whose_cache_write_failed_is_seen_once_the_cached_copy_expires(
    monkeypatch, caplog
):
    before = policy_version()
    backend = caches["default"]  # the object behind the ``cache`` proxy
    real_set = backend.set

    def cache_down_for_the_version(key, *args, **kwargs):
        if key == VERSION_KEY:
            raise ConnectionError("cache blip")
        return real_set(key, *args, **kwargs)

    monkeypatch.setattr(backend, "set", cache_down_for_the_version)
    McpServer.objects.create(name="a_mcp", url="http://a/mcp")  # commits; the cache write fails
    monkeypatch.undo()
    assert "cache blip" in caplog.text
    assert policy_version() == before  # the stale copy, for at most its lifetime
    cache.delete(VERSION_KEY)  # what OMNI2_POLICY_VERSION_CACHE_SECONDS does
    assert policy_version() != before
    assert "a_mcp" in policy_snapshot().mcps


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_the_cached_copy_of_the_version_expires(settings):
    if not hasattr(cache, "ttl"):
        pytest.skip("only django-redis exposes a key's time to live")
    McpServer.objects.create(name="a_mcp", url="http://a/mcp")
    assert 0 < cache.ttl(VERSION_KEY) <= settings.OMNI2_POLICY_VERSION_CACHE_SECONDS
    cache.delete(VERSION_KEY)
    policy_version()
    assert 0 < cache.ttl(VERSION_KEY) <= settings.OMNI2_POLICY_VERSION_CACHE_SECONDS


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_a_pinned_block_reads_the_version_once_and_sees_its_own_changes():
    before = policy_version()
    with policy_pinned():
        assert policy_version() == before
        cache.set(VERSION_KEY, "another-process-changed-it")
        assert policy_version() == before  # one version for the whole request
        McpServer.objects.create(name="a_mcp", url="http://a/mcp")  # commits: a new token
        mine = policy_version()
        assert mine not in (before, "another-process-changed-it")
        assert "a_mcp" in policy_snapshot().mcps
    cache.set(VERSION_KEY, "later")
    assert policy_version() == "later"  # outside a block every read is fresh


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_each_request_reads_the_policy_version_once(authed_client, monkeypatch):
    reads = []
    real_get = cache.get
    monkeypatch.setattr(
        cache, "get", lambda key, *a, **k: (reads.append(key), real_get(key, *a, **k))[1]
    )
    client = authed_client()
    for _ in range(2):
        reads.clear()
        assert client.get("/api/mcp/tools/list").status_code == 200
        assert reads.count(VERSION_KEY) == 1


@pytest.mark.django_db
def test_a_transaction_sees_its_own_uncommitted_policy_changes():
    McpServer.objects.create(name="a_mcp", url="http://a/mcp")
    assert "a_mcp" in policy_snapshot().mcps
    assert policy_snapshot().version == "uncommitted"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")
def test_the_catalog_is_memoised_under_the_snapshots_version(django_assert_num_queries):
    McpServer.objects.create(name="a_mcp", url="http://a/mcp")
    snapshot = policy_snapshot()
    built = catalog(snapshot)
    with django_assert_num_queries(0):
        assert catalog(snapshot) is built and catalog_memoised(snapshot.version) is built

    McpServer.objects.create(name="b_mcp", url="http://b/mcp")
    assert catalog_memoised(policy_version()) is None
    assert set(catalog().servers) == {"a_mcp", "b_mcp"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")
def test_a_catalog_of_uncommitted_rows_is_built_for_its_caller_only():
    with transaction.atomic():
        McpServer.objects.create(name="a_mcp", url="http://a/mcp")
        inside = catalog()
        assert inside.version == "uncommitted" and "a_mcp" in inside.servers
        assert catalog() is not inside and catalog_memoised("uncommitted") is None
    assert "a_mcp" in catalog().servers and catalog() is catalog()


def test_every_per_process_memo_of_policy_values_is_declared_in_core_memo():
    names = {memo.name for memo in memos()}
    assert {"policy snapshot", "mcp catalog", "api keys", "mcp health probes"} <= names


@pytest.mark.django_db
def test_a_transaction_publishes_one_new_version_however_many_rows_it_changes(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for name in ("a_mcp", "b_mcp", "c_mcp"):
            McpServer.objects.create(name=name, url=f"http://{name}/mcp")
    assert len(callbacks) == 1
    assert PolicyVersion.objects.get().token == policy_version()


@pytest.mark.django_db
def test_a_login_does_not_invalidate_the_policy(django_capture_on_commit_callbacks):
    user = User.objects.create_user("u@x.com", "pw")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        user.last_login = user.date_joined
        user.save(update_fields=["last_login"])
    assert callbacks == []


@pytest.mark.django_db
def test_an_inactive_or_missing_user_is_the_default_user():
    user = user_create(email="gone@x.com", role="admin")
    user.is_active = False
    assert user_policy_for(user).email == "" and user_policy_for(None).role == "read_only"


def _stored_token_seen_by_another_connection() -> str:
    seen = []

    def read():
        seen.append(PolicyVersion.objects.get().token)
        connection.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    return seen[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_a_policy_change_stores_its_new_version_in_its_own_transaction():
    before = PolicyVersion.objects.get().token
    with transaction.atomic():
        McpServer.objects.create(name="a_mcp", url="http://a/mcp")
        inside = PolicyVersion.objects.get().token
        assert inside != before
        if connection.vendor == "postgresql":  # SQLite's write lock would hold the reader back
            assert _stored_token_seen_by_another_connection() == before
    assert PolicyVersion.objects.get().token == inside == policy_version()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_a_rolled_back_policy_change_leaves_the_version_unchanged():
    stored, cached = PolicyVersion.objects.get().token, policy_version()
    with pytest.raises(RuntimeError), transaction.atomic():
        McpServer.objects.create(name="a_mcp", url="http://a/mcp")
        raise RuntimeError("the admin form failed after the row was written")
    assert (PolicyVersion.objects.get().token, policy_version()) == (stored, cached)
    assert "a_mcp" not in policy_snapshot().mcps


class ProcessDied(Exception):
    pass


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")  # transactional tests flush the migration-seeded roles
def test_a_committed_change_is_versioned_even_if_nothing_runs_after_the_commit():
    before = policy_version()
    policy_snapshot()  # warm, under the old version

    def die():
        raise ProcessDied  # stands for a crash between the commit and the cache write

    with pytest.raises(ProcessDied), transaction.atomic():
        transaction.on_commit(die)  # runs first and stops every later after-commit step
        McpServer.objects.create(name="a_mcp", url="http://a/mcp")
    assert policy_version() == before  # the cache's copy, for at most its lifetime
    cache.delete(VERSION_KEY)  # what OMNI2_POLICY_VERSION_CACHE_SECONDS does
    assert policy_version() != before
    assert "a_mcp" in policy_snapshot().mcps
