from django.db import connection


def current_database_url() -> str:
    """DATABASE_URL of the database this process is using right now (the test one under pytest).

    Handed to child processes (a test's Celery worker, our own stdio MCP servers) so they
    read and write the same database as their parent.
    """
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
