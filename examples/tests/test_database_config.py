"""The databases YAML: DSNs from the environment, mistakes named, never a crash."""

from examples.database_mcp.config import config_load
from examples.formatting import size_human


def test_dsns_come_from_the_environment(tmp_path):
    path = tmp_path / "db.yaml"
    path.write_text(
        "databases:\n  - {name: a, engine: mysql, dsn: 'mysql://mon:${PW}@db:3306/app', description: App}\n"
    )

    config = config_load(path=str(path), environ={"PW": "p@ss"})

    spec = config.databases["a"]
    assert config.configured and spec.dsn == "mysql://mon:p@ss@db:3306/app"
    assert spec.location == "db:3306/app" and "p@ss" not in repr(spec)


def test_a_bad_entry_is_named_and_leaves_the_server_unconfigured(tmp_path):
    path = tmp_path / "db.yaml"
    path.write_text("- {name: a, engine: oracle, dsn: x}\n")

    config = config_load(path=str(path), environ={})

    assert not config.configured
    assert "entry 1 (a): engine 'oracle' is not one of mysql, postgres" in config.problem


def test_a_misspelt_key_is_refused_by_name(tmp_path):
    path = tmp_path / "db.yaml"
    path.write_text("databases:\n  - {name: a, engine: mysql, dns: '${X}'}\n")

    assert "unknown key 'dns'" in config_load(path=str(path), environ={}).problem


def test_a_dsn_with_the_wrong_scheme_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "db.yaml"
    path.write_text("databases:\n  - {name: a, engine: postgres, dsn: '${DSN}'}\n")

    problem = config_load(path=str(path), environ={"DSN": "mysql://u:topsecret@h/db"}).problem

    assert "must start with postgres://" in problem and "topsecret" not in problem


def test_sizes_read_as_b_kb_and_mb():
    assert [size_human(n) for n in (0, 1023, 1536, 5 * 1024 * 1024)] == [
        "0 B",
        "1023 B",
        "1.5 KB",
        "5 MB",
    ]


def test_an_entry_may_read_its_own_database_or_the_schemas_it_lists(tmp_path):
    path = tmp_path / "db.yaml"
    path.write_text(
        "databases:\n"
        "  - {name: m, engine: mysql, dsn: 'mysql://u@h/app'}\n"
        "  - {name: m2, engine: mysql, dsn: 'mysql://u@h/app', schemas: [reporting]}\n"
        "  - {name: p, engine: postgres, dsn: 'postgres://u@h/db'}\n"
        "  - {name: p2, engine: postgres, dsn: 'postgres://u@h/db', schemas: [sales, public]}\n"
    )

    dbs = config_load(path=str(path), environ={}).databases

    assert dbs["m"].schemas == {"app"} and dbs["m2"].schemas == {"app", "reporting"}
    assert dbs["p"].schemas == {"public"} and dbs["p2"].schemas == {"sales", "public"}


def test_schemas_that_are_not_a_list_of_names_are_refused(tmp_path):
    path = tmp_path / "db.yaml"
    path.write_text(
        "databases:\n  - {name: a, engine: mysql, dsn: 'mysql://u@h/app', schemas: 'hr; x'}\n"
    )

    assert (
        "'schemas' must be a non-empty list of names"
        in config_load(path=str(path), environ={}).problem
    )
