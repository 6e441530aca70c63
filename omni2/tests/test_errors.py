import json

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("omni2.tests.urls_for_errors")]


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_it_accepts_well_formed_json(api_client):
    response = api_client.post("/echo", {"a": 1}, format="json")
    assert response.status_code == 200
    assert response.json() == {"received": {"a": 1}}


def test_malformed_json_is_a_400_in_the_error_shape(api_client):
    response = api_client.post("/echo", data='{"a": ', content_type="application/json")
    assert_error(response, 400, "invalid_request")


def test_a_body_over_one_megabyte_is_a_413(api_client):
    big = json.dumps({"blob": "x" * (1024 * 1024)})
    response = api_client.post("/echo", data=big, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_a_body_just_under_the_limit_passes(api_client):
    body = json.dumps({"blob": "x" * (1024 * 1024 - 100)})
    response = api_client.post("/echo", data=body, content_type="application/json")
    assert response.status_code == 200


def test_a_lying_content_length_is_refused(client):
    response = client.generic(
        "POST", "/echo", b"{}", content_type="application/json", CONTENT_LENGTH="not-a-number"
    )
    assert_error(response, 400, "invalid_request")


def test_wrong_method_is_a_405(api_client):
    assert_error(api_client.delete("/echo"), 405, "method_not_allowed")


def test_unknown_path_is_a_404_in_the_error_shape(client):
    assert_error(client.get("/api/no-such-thing"), 404, "not_found")


def test_a_bug_in_a_view_is_a_500_without_a_traceback(api_client):
    response = api_client.get("/echo")
    assert_error(response, 500, "internal_error")
    assert "boom" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_unsupported_content_type_is_a_415(api_client):
    response = api_client.post(
        "/echo", data="a=1", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "unsupported_media_type")
