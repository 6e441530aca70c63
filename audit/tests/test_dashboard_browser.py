"""The dashboard in a real browser: the system Chromium, driven by Playwright, on a live server.

An admin logs in, follows the index's link to the dashboard, and every chart must hold data
points drawn from the seeded trail: read back from the Chart.js instances on the page and
compared with the JSON they came from. A screenshot is taken (to ``OMNI2_DASHBOARD_SCREENSHOT``
when set, which is how docs/img/dashboard.png is made; else to a temporary folder).
"""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from audit.services import audit_record
from audit.tests.test_analytics_seed import HAIKU, SONNET, audit_backdate, call, usage
from audit.tests.test_dashboard import seed_dashboard_trail

CHROMIUM = os.environ.get("OMNI2_CHROMIUM", "/usr/bin/chromium")
CHARTS = ("cost", "status", "users", "tools", "latency", "cache", "refusals")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None,
        reason=f"no Chromium at {CHROMIUM}: install the Debian package chromium (.ci/run does)",
    ),
]

# Read inside the page: every chart's datasets as plain numbers (null for gaps).
CHART_POINTS = """() => Object.fromEntries(Object.entries(window.omni2Dashboard.charts).map(
    ([name, chart]) => [name, {labels: chart.data.labels,
                               datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data}))}]))"""


def seed_a_busy_week(make_user) -> None:
    """A few dozen more requests over the last week, so the charts have some shape."""
    users = [make_user(role="dba", email=f"ops{n}@example.com") for n in range(3)]
    statuses = ["success"] * 6 + ["error", "warning"]
    for n in range(48):
        model = (HAIKU, SONNET)[n % 3 == 0]
        log = audit_record(
            user=users[n % 3],
            source="slack",
            message=f"question {n}",
            status=statuses[n % len(statuses)],
            model=model,
            usage=usage(800 + 40 * n, 200 + 10 * n, (n % 4) * 3000, 500),
            duration_ms=400 + 97 * n,
            tool_calls=[
                call("database_mcp", "get_database_health", duration_ms=40 + 13 * n),
                call("qa_mcp", "compare_csv_files", duration_ms=300 + 61 * n),
            ],
        )
        if n % 7:
            audit_backdate(log, days=n % 7)


def log_in(page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def test_an_admin_sees_every_chart_filled_from_the_audit_trail(live_server, make_user, tmp_path):
    from permissions.models import User

    seed_dashboard_trail(make_user)
    seed_a_busy_week(make_user)
    User.objects.create_superuser("root@example.com", "a long test password")
    target = Path(os.environ.get("OMNI2_DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")

    # No database access below: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log_in(page, live_server.url, "root@example.com", "a long test password")
        page.click("#audit-dashboard-link a")
        page.wait_for_selector(".audit-dashboard[data-ready]")
        assert page.get_attribute(".audit-dashboard", "data-ready") == "true"
        charts = page.evaluate(CHART_POINTS)
        data = page.evaluate("() => window.omni2Dashboard.data")
        page.screenshot(path=str(target), full_page=True)
        slowest_links = page.eval_on_selector_all("#table-slowest a", "as => as.map(a => a.href)")
        browser.close()

    for name in CHARTS:
        points = [p for d in charts[name]["datasets"] for p in d["data"] if p]
        assert points, f"chart {name} has no data points"
    assert [d["data"] for d in charts["cost"]["datasets"]] == [
        s["cost_usd"] for s in data["cost_by_model"]
    ]
    assert charts["status"]["labels"] == data["days"] and len(data["days"]) == 7
    assert charts["users"]["labels"][0] == data["top_users"][0]["email"]
    assert len(slowest_links) == 10 and "/admin/audit/auditlog/" in slowest_links[0]
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
