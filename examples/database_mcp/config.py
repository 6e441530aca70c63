"""The YAML list of named databases, parsed once into typed values.

A configuration problem never stops the server: it starts and answers every tool with
"database_mcp is not configured: <why>", so OMNI2 can show it as unconfigured.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

DEFAULT_CONFIG_PATH = "config/databases.yaml"
ENGINES = ("mysql", "postgres")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ALLOWED_KEYS = {"name", "engine", "dsn", "description", "schemas"}


@dataclass(frozen=True)
class DatabaseSpec:
    name: str
    engine: str
    dsn: str = field(repr=False)
    description: str = ""
    extra_schemas: tuple[str, ...] = ()  # the YAML's `schemas:`

    @property
    def schemas(self) -> frozenset[str]:
        """What an analysed query may qualify a table with: on MySQL the DSN's database plus the
        entry's ``schemas:``; on PostgreSQL the entry's ``schemas:``, else ``public``."""
        if self.engine == "postgres":
            return frozenset(self.extra_schemas or ("public",))
        database = unquote(urlsplit(self.dsn).path.lstrip("/"))
        return frozenset(self.extra_schemas) | ({database} if database else set())

    @property
    def password(self) -> str:
        return unquote(urlsplit(self.dsn).password or "")

    @property
    def location(self) -> str:
        """host:port/database, never the user or password."""
        parts = urlsplit(self.dsn)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.hostname or 'localhost'}{port}{parts.path or ''}"


@dataclass(frozen=True)
class Config:
    databases: dict[str, DatabaseSpec]
    unavailable: dict[str, str]  # name -> why it cannot be used (e.g. its DSN variable is unset)
    problem: str = ""  # why the whole server is unconfigured; empty when usable

    @property
    def configured(self) -> bool:
        return not self.problem


def config_load(*, path: str | None = None, environ: dict[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    path = path or environ.get("DATABASE_MCP_CONFIG") or DEFAULT_CONFIG_PATH
    if not Path(path).is_file():
        return _unconfigured(
            f"no config file at {path} (set DATABASE_MCP_CONFIG; see config/databases.example.yaml)"
        )
    try:
        entries = _entries(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
        specs, unavailable = _specs(entries, environ)
    except (yaml.YAMLError, ValueError) as exc:
        return _unconfigured(f"{path} is invalid: {exc}")
    if not specs:
        why = (
            "; ".join(f"{name}: {reason}" for name, reason in unavailable.items())
            or "it lists no databases"
        )
        return Config(
            databases={},
            unavailable=unavailable,
            problem=f"no database in {path} is usable ({why})",
        )
    return Config(databases=specs, unavailable=unavailable)


def _unconfigured(problem: str) -> Config:
    return Config(databases={}, unavailable={}, problem=problem)


def _entries(document) -> list:
    # Either a bare list or {"databases": [...]}.
    if isinstance(document, dict):
        document = document.get("databases")
    if document is None:
        return []
    if not isinstance(document, list):
        raise ValueError("expected a list of databases (or a 'databases:' key holding one)")
    return document


def _specs(entries: list, environ) -> tuple[dict[str, DatabaseSpec], dict[str, str]]:
    specs: dict[str, DatabaseSpec] = {}
    unavailable: dict[str, str] = {}
    for index, entry in enumerate(entries, start=1):
        name, engine, raw_dsn, description = _entry_fields(index, entry)
        schemas = _entry_schemas(index, name, entry.get("schemas"))
        if name in specs or name in unavailable:
            raise ValueError(f"entry {index}: duplicate name {name!r}")
        missing = [var for var in ENV_RE.findall(raw_dsn) if not environ.get(var)]
        if missing:
            unavailable[name] = f"environment variable {missing[0]} is not set"
            continue
        dsn = ENV_RE.sub(lambda m: environ[m.group(1)], raw_dsn)
        _check_dsn(index, engine, dsn)
        specs[name] = DatabaseSpec(
            name=name, engine=engine, dsn=dsn, description=description, extra_schemas=schemas
        )
    return specs, unavailable


def _entry_fields(index: int, entry) -> tuple[str, str, str, str]:
    if not isinstance(entry, dict):
        raise ValueError(f"entry {index} is not a mapping")
    unknown = sorted(set(entry) - ALLOWED_KEYS)
    if unknown:
        raise ValueError(
            f"entry {index}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(ALLOWED_KEYS))})"
        )
    name, engine, dsn = (
        str(entry.get("name") or ""),
        str(entry.get("engine") or ""),
        entry.get("dsn"),
    )
    if not NAME_RE.match(name):
        raise ValueError(f"entry {index}: 'name' is missing or not [A-Za-z0-9_.-]+")
    if engine not in ENGINES:
        raise ValueError(
            f"entry {index} ({name}): engine {engine!r} is not one of {', '.join(ENGINES)}"
        )
    if not isinstance(dsn, str) or not dsn:
        raise ValueError(f"entry {index} ({name}): 'dsn' is required (e.g. dsn: ${{MY_DB_DSN}})")
    return name, engine, dsn, str(entry.get("description") or "")


def _entry_schemas(index: int, name: str, schemas) -> tuple[str, ...]:
    if schemas is None:
        return ()
    names_ok = isinstance(schemas, list) and all(
        isinstance(s, str) and NAME_RE.match(s) for s in schemas
    )
    if not names_ok or not schemas:
        raise ValueError(f"entry {index} ({name}): 'schemas' must be a non-empty list of names")
    return tuple(schemas)


def _check_dsn(index: int, engine: str, dsn: str) -> None:
    schemes = {"mysql": ("mysql", "mariadb"), "postgres": ("postgres", "postgresql")}[engine]
    scheme = urlsplit(dsn).scheme
    if scheme not in schemes:
        # The DSN itself may hold a password, so only its scheme is named.
        raise ValueError(
            f"entry {index}: a {engine} DSN must start with {schemes[0]}:// (got {scheme or 'no'} scheme)"
        )
