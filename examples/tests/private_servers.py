"""Throw-away PostgreSQL and MariaDB instances with statement statistics switched on.

pg_stat_statements and performance_schema only load at server start, and the shared servers
run without them, so the data path of get_top_queries is tested against private instances on a
free port and a temporary data directory, started here and removed afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql

from testing.mcp_servers import free_port


def _as_user(user: str, command: list[str]) -> list[str]:
    # Both servers refuse to run as root; as any other user they run as that user.
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", user, "--", *command]


def _scratch_dir(prefix: str, owner: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, user=owner)
    return path


def postgres_binaries() -> Path | None:
    found = shutil.which("initdb") or max(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), default=None
    )
    return Path(found).parent if found else None


@contextlib.contextmanager
def private_postgres() -> Iterator[str]:
    """Yields a superuser DSN of a new PostgreSQL with pg_stat_statements preloaded."""
    bindir, port = postgres_binaries(), free_port()
    base = _scratch_dir("omni2-pg-", "postgres")
    data = base / "data"

    def run(*cmd):
        return subprocess.run(
            _as_user("postgres", [str(c) for c in cmd]), check=True, capture_output=True
        )

    try:
        run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c shared_preload_libraries=pg_stat_statements"
        run(
            bindir / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-l",
            base / "log",
            "-w",
            "-t",
            "60",
            "start",
        )
        try:
            yield f"postgres://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def mariadb_binaries() -> tuple[str, str] | None:
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
    installer = shutil.which("mariadb-install-db")
    return (server, installer) if server and installer and _has_user("mysql") else None


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return os.geteuid() != 0


@contextlib.contextmanager
def private_mariadb() -> Iterator[str]:
    """Yields a root DSN of a new MariaDB with performance_schema ON."""
    server, installer = mariadb_binaries()
    port, base = free_port(), _scratch_dir("omni2-mariadb-", "mysql")
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    try:
        subprocess.run(
            [
                installer,
                "--no-defaults",
                f"--datadir={base / 'data'}",
                *user,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        process = subprocess.Popen(
            _as_user(
                "mysql",
                [
                    server,
                    "--no-defaults",
                    f"--datadir={base / 'data'}",
                    f"--port={port}",
                    "--bind-address=127.0.0.1",
                    f"--socket={base / 'sock'}",
                    f"--pid-file={base / 'pid'}",
                    "--performance-schema=ON",
                    "--skip-log-bin",
                    "--innodb-buffer-pool-size=16M",
                    f"--log-error={base / 'err'}",
                ],
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_accepting(port, process, base)
            yield f"mysql://root@127.0.0.1:{port}/mysql"
        finally:
            _stop_mariadb(base / "pid", process)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _wait_accepting(port: int, process: subprocess.Popen, base: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=2).close()
            return
        except pymysql.err.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"private MariaDB did not start: {(base / 'err').read_text(errors='replace')[-2000:]}"
                ) from None
            time.sleep(0.2)


def _stop_mariadb(pid_file: Path, process: subprocess.Popen) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
