"""Which tool results are tables, and how they are written as CSV (no Slack, no database)."""

from slackapp.tables import table_csv, table_of, tables_in


def test_a_list_of_objects_inside_a_result_is_a_table():
    assert table_of({"database": "x", "queries": [{"sql": "a"}]}) == [{"sql": "a"}]
    assert table_of('[{"id": 1}]') == [{"id": 1}]  # JSON as text, as MCP tools often answer
    assert table_of({"status": "ok"}) is None
    assert table_of([1, 2]) is None


def test_failed_results_offer_no_table():
    results = [{"mcp": "m", "tool": "t", "is_error": True, "result": [{"id": 1}]}]
    assert tables_in(results) == []


def test_csv_has_every_column_and_cells_never_run_as_formulas():
    content = table_csv([{"a": 1, "b": "=HYPERLINK(1)"}, {"c": None, "a": "-2"}])
    assert content.splitlines() == ["a,b,c", "1,'=HYPERLINK(1),", "'-2,,"]
