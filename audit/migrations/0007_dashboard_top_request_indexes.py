"""Two indexes for the dashboard's slowest and costliest requests of a period.

On PostgreSQL they are built with CREATE INDEX CONCURRENTLY (so the migration is not atomic):
a plain CREATE INDEX would hold every audit INSERT, that is every request, for the whole build
on a large table. SQLite (the embedded mode) builds them plainly. ``IF NOT EXISTS``: an
interrupted run can be run again, and an operator may build them by hand first.
"""

from django.db import migrations, models

INDEXES = {"audit_duration": ("duration_ms", "id"), "audit_cost": ("cost_usd", "id")}


def forwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, columns in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON audit_auditlog ({', '.join(columns)})"
        )


def backwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("audit", "0006_dashboard_rollup_triggers")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="auditlog",
                    index=models.Index(fields=list(columns), name=name),
                )
                for name, columns in INDEXES.items()
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
