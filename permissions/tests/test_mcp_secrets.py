"""MCP bearer tokens and env values: encrypted at rest, readable only through connection_secrets()."""

import pytest
from django.db import connection
from django.test import override_settings

from permissions.crypto import SecretUnreadable, secret_decrypt, secret_encrypt
from permissions.models import McpServer

pytestmark = pytest.mark.django_db


def test_secrets_are_encrypted_in_the_database():
    server = McpServer(name="s_mcp", url="http://s/mcp")
    server.set_bearer_token("tok-plain-777")
    server.set_env({"PASSWORD": "hunter2-777"})
    server.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM permissions_mcpserver WHERE id = %s", [server.pk])
        raw = str(cursor.fetchone())
    assert "tok-plain-777" not in raw and "hunter2-777" not in raw and "PASSWORD" in raw
    fresh = McpServer.objects.get(pk=server.pk)
    assert fresh.connection_secrets() == ("tok-plain-777", {"PASSWORD": "hunter2-777"})
    assert fresh.env_keys == ["PASSWORD"] and fresh.has_bearer_token


def test_a_rotated_secret_key_still_reads_old_secrets_through_the_fallbacks(settings):
    token = secret_encrypt("tok")
    with override_settings(
        SECRET_KEY="a-brand-new-key", SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]
    ):
        assert secret_decrypt(token) == "tok"
    with override_settings(SECRET_KEY="a-brand-new-key", SECRET_KEY_FALLBACKS=[]):
        with pytest.raises(SecretUnreadable):
            secret_decrypt(token)


def test_an_empty_token_means_none():
    server = McpServer(name="n_mcp", url="http://n/mcp")
    server.set_bearer_token("")
    assert server.connection_secrets() == ("", {}) and not server.has_bearer_token
