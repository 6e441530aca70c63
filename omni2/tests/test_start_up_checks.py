"""Safe defaults: no real deployment on a known secret key, DEBUG off unless asked for.

The start-ups run as real processes with the environment docker compose gives them
(``.env`` copied from ``.env.example``, then compose's own ``environment:``).
"""

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from omni2.checks import secret_key_weakness

BASE_DIR = Path(settings.BASE_DIR)
# Nothing listens there: a start-up that got past its checks would fail on the connection.
UNREACHABLE_POSTGRES = "postgres://omni2:omni2@127.0.0.1:1/omni2"


def env_example() -> dict[str, str]:
    lines = (BASE_DIR / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def compose_environment() -> dict[str, str]:
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    return {key: str(value) for key, value in compose["x-omni2"]["environment"].items()}


def run(args: list[str], env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """``python <args>`` in the repository with only ``env`` (and a private var/)."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OMNI2_VAR_DIR": str(tmp_path / "var")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "key",
    [
        settings.DEV_SECRET_KEY,
        "change-me-to-a-long-random-string",
        "Change-Me" + "x" * 60,
        "django-insecure-" + secrets.token_urlsafe(50),
        secrets.token_urlsafe(20),
        "ab" * 40,
    ],
)
def test_it_names_a_development_placeholder_short_or_monotonous_key_weak(key):
    assert secret_key_weakness(key, dev_key=settings.DEV_SECRET_KEY)


def test_a_long_random_key_is_not_weak():
    assert secret_key_weakness(secrets.token_urlsafe(50), dev_key=settings.DEV_SECRET_KEY) is None


@pytest.mark.parametrize(
    "start",
    [
        ["manage.py", "migrate", "--noinput"],  # compose's migrate service
        [
            "-m",
            "omni2.web",
            "omni2.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],  # its web service
        ["-m", "celery", "-A", "omni2", "worker", "--concurrency", "1"],  # its worker
    ],
    ids=["migrate", "web", "worker"],
)
def test_compose_with_the_example_env_refuses_to_start_and_says_what_to_set(start, tmp_path):
    env = {**env_example(), **compose_environment(), "DATABASE_URL": UNREACHABLE_POSTGRES}
    result = run(start, env, tmp_path)
    assert result.returncode == 1
    assert "(omni2.E001) OMNI2_SECRET_KEY is a placeholder" in result.stderr
    assert "HINT: Set OMNI2_SECRET_KEY" in result.stderr and "token_urlsafe(50)" in result.stderr
    assert "Traceback" not in result.stderr
    assert env["OMNI2_SECRET_KEY"] not in result.stderr + result.stdout


def test_an_unset_key_is_refused_on_postgresql(tmp_path):
    result = run(["manage.py", "check"], {"DATABASE_URL": UNREACHABLE_POSTGRES}, tmp_path)
    assert result.returncode == 1 and "OMNI2_SECRET_KEY is not set" in result.stderr


def test_the_embedded_demo_starts_on_the_development_key_with_debug_off_by_default(tmp_path):
    assert run(["manage.py", "check"], {}, tmp_path).returncode == 0
    shown = (
        "from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY == s.DEV_SECRET_KEY)"
    )
    result = run(["manage.py", "shell", "--no-imports", "-c", shown], {}, tmp_path)
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_check_deploy_is_clean_for_the_compose_shape(tmp_path):
    env = {**compose_environment(), "OMNI2_SECRET_KEY": secrets.token_urlsafe(50)}
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
