import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_broker_without_auth(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["status"] == "healthy"
    assert isinstance(body["mcps"], list)


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/health" in schema.json()["paths"]
    assert client.get("/api/docs").status_code == 200
    assert client.get("/api/redoc").status_code == 200


def test_admin_login_page_is_served(client):
    assert client.get("/admin/login/").status_code == 200


def test_health_reports_the_cache(client):
    assert client.get("/health").json()["cache"] == "ok"


def test_health_says_the_cache_is_unavailable_when_redis_cannot_be_asked(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("the embedded file cache has no server to lose")
    from testing.outages import redis_unreachable

    redis_unreachable(settings)
    response = client.get("/health")
    assert response.status_code == 200  # the limiter counts in the database meanwhile
    assert (response.json()["cache"], response.json()["status"]) == ("unavailable", "degraded")


@pytest.mark.django_db(transaction=True)
def test_health_is_503_when_the_database_cannot_be_asked(client):
    from testing.outages import database_rerouted

    with database_rerouted():
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


@pytest.fixture
def unreachable_mcp(db):
    """An MCP server row whose URL (with a token in it) nobody listens on."""
    from permissions.models import McpServer
    from testing.outages import closed_port

    url = f"http://127.0.0.1:{closed_port()}/mcp?token=internal-secret-path"
    McpServer.objects.create(name="down_mcp", transport="http", url=url, timeout_seconds=2)
    return url


def test_anonymous_health_shows_a_short_error_code_and_no_details(client, unreachable_mcp):
    response = client.get("/health")
    [row] = response.json()["mcps"]
    assert row == {
        "name": "down_mcp",
        "status": "unreachable",
        "tools": 0,
        "latency_ms": None,
        "last_error": "unreachable",
    }
    assert (
        "127.0.0.1" not in response.content.decode() and "secret" not in response.content.decode()
    )


def test_admins_see_the_error_text_at_the_servers_endpoint(authed_client, unreachable_mcp):
    [row] = authed_client(role="admin").get("/api/mcp/tools/servers").json()["servers"]
    assert row["status"] == "unreachable"
    assert row["last_error_code"] == "unreachable"
    assert row["last_error"] not in ("", "unreachable")  # the sentence, for the people who run it
