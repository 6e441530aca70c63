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
