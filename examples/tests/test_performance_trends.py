"""get_performance_trends: samples kept by the server, with deltas between them."""

import pytest

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("database, counter", [("pg", "xact_commit"), ("maria", "Questions")])
def test_it_returns_a_series_with_deltas_between_samples(database_mcp, database, counter):
    database_mcp.call("get_performance_trends", {"database": database})
    result = database_mcp.call("get_performance_trends", {"database": database, "hours": 1})

    assert not result.is_error, result
    trends = result.data
    assert trends["sample_count"] >= 2
    first, last = trends["samples"][0], trends["samples"][-1]
    assert "deltas" not in first
    assert last["deltas"][counter] > 0  # our own calls between the samples count
    assert last["per_second"][counter] > 0
    assert trends["summary"]["peak_per_second"][counter] > 0


def test_it_keeps_samples_in_a_sqlite_file_under_the_data_dir(database_mcp, dbmcp_dir):
    result = database_mcp.call("get_performance_trends", {"database": "pg", "max_points": 2})

    assert not result.is_error, result
    assert result.data["storage"] == f"sqlite:{(dbmcp_dir / 'data' / 'samples.sqlite3').resolve()}"
    assert (dbmcp_dir / "data" / "samples.sqlite3").is_file()
    assert result.data["sample_count"] == 2  # thinned to max_points, newest kept


def test_bad_ranges_are_clear_tool_errors(database_mcp):
    result = database_mcp.call("get_performance_trends", {"database": "pg", "hours": 0})

    assert result.is_error
    assert "hours must be above 0" in result.text
