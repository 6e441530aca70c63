"""A system with 300 registered tools (10 MCP servers x 30), shaped like SDK servers' listings.

Used by ``bench/chat.py`` to measure how many input tokens the permitted-tools filter saves.
"""

import json
import math

THEMES = [  # (server, description, what its tools handle, the argument that scopes them)
    (
        "database",
        "Oracle, MySQL and PostgreSQL",
        "databases slow_queries indexes table_stats sessions",
        "db_name",
    ),
    (
        "github",
        "GitHub repositories and Actions",
        "repositories pull_requests issues workflow_runs releases",
        "repo",
    ),
    (
        "jira",
        "Jira Cloud issues, sprints and boards",
        "tickets sprints boards epics worklogs",
        "project_key",
    ),
    (
        "kubernetes",
        "Kubernetes clusters, read-only",
        "pods deployments nodes events namespaces",
        "cluster",
    ),
    (
        "grafana",
        "Grafana dashboards and alerts",
        "dashboards alert_rules panels datasources annotations",
        "folder",
    ),
    (
        "aws",
        "AWS EC2, RDS, S3 and CloudWatch",
        "instances buckets rds_clusters alarms log_groups",
        "region",
    ),
    (
        "pagerduty",
        "PagerDuty incidents and on-call",
        "incidents schedules services escalations oncalls",
        "team_id",
    ),
    (
        "confluence",
        "Confluence spaces and pages",
        "pages spaces comments attachments labels",
        "space_key",
    ),
    (
        "sentry",
        "Sentry errors and releases",
        "error_events issues projects deploys alerts",
        "organization",
    ),
    (
        "qa",
        "CSV and report comparison for QA",
        "csv_files test_runs test_cases reports datasets",
        "workspace",
    ),
]
VERBS = {  # verb: (description, its arguments besides the scope)
    "list": (
        "List {o} in the given {s}, newest first. Returns id, name, status and timestamps; results are "
        "paginated, so pass next_cursor back to read the following page.",
        ["limit", "cursor", "status"],
    ),
    "get": (
        "Get one of the {o} by id with every field, related items and recent activity. Fails with "
        "not_found when the id does not exist or is not visible to the caller.",
        ["id", "fields"],
    ),
    "search": (
        "Search {o} by free text and field filters (field:value, AND/OR, quotes for phrases), sorted by "
        "relevance unless a sort field is given.",
        ["query", "limit", "since"],
    ),
    "summarize": (
        "Summarize {o} over a period: counts by status, the trend against the previous period and the "
        "most notable items, as a compact JSON report suitable for charts.",
        ["since", "group_by"],
    ),
    "count": (
        "Count {o} matching the filters, grouped by the given field. Cheap: use it before listing when only "
        "totals are needed.",
        ["query", "group_by", "status"],
    ),
    "export": (
        "Export {o} matching the filters as CSV or JSON to the shared reports folder; returns the file "
        "path, row count and size.",
        ["query", "format", "since"],
    ),
}
ARGUMENTS = {
    "id": {"type": "string", "description": "The id, as returned by the list tool."},
    "query": {
        "type": "string",
        "description": "Free text; supports field:value filters such as status:open.",
    },
    "limit": {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
        "description": "Most results.",
    },
    "cursor": {"type": "string", "description": "next_cursor from the previous page, if any."},
    "since": {
        "type": "string",
        "format": "date-time",
        "description": "Only items changed after this time.",
    },
    "status": {"type": "string", "enum": ["open", "closed", "all"], "default": "open"},
    "group_by": {"type": "string", "enum": ["status", "owner", "day", "week"], "default": "status"},
    "format": {"type": "string", "enum": ["csv", "json"], "default": "csv"},
    "fields": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Fields to return; all if empty.",
    },
}


def fake_tools(things: str, scope: str) -> list[dict]:
    """30 tools shaped like an SDK server's: a few sentences, typed arguments with titles and enums."""
    tools = []
    for thing in things.split():
        for verb, (sentence, names) in VERBS.items():
            arguments = {
                scope: {
                    "type": "string",
                    "description": f"The {scope.replace('_', ' ')} to look in.",
                },
                **{name: ARGUMENTS[name] for name in names},
            }
            properties = {
                name: {"title": name.replace("_", " ").title(), **spec}
                for name, spec in arguments.items()
            }
            tools.append(
                {
                    "name": f"{verb}_{thing}",
                    "description": sentence.format(o=thing.replace("_", " "), s=scope),
                    "input_schema": {
                        "type": "object",
                        "properties": properties,
                        "additionalProperties": False,
                        "required": [scope, "id"] if verb == "get" else [scope],
                    },
                }
            )
    return tools


def token_estimate(value) -> int:
    """Characters / 4 of the compact JSON: an estimate (no tokenizer here works without the network)."""
    return math.ceil(len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) / 4)
