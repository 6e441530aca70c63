"""Two indexes of the audit table that no query needs, dropped; no index is rebuilt.

- ``user_id``: the foreign key's own index. ``audit_user_time`` (user, created_at) leads with
  the user and answers every lookup it served.
- ``request_id``: ``db_index=True`` on a CharField gives PostgreSQL two indexes, a plain one and
  a ``varchar_pattern_ops`` copy (``…_like``) for ``LIKE 'x%'``. Request ids are only matched
  with ``=``, so the copy goes and the plain one is renamed ``audit_request_id`` (the model now
  declares it as ``models.Index``): renaming costs nothing, building a new index on a large
  audit table would block its INSERTs (that is, every request) for the whole build.

On PostgreSQL the drops are ``DROP INDEX CONCURRENTLY`` (so the migration is not atomic): a
plain DROP INDEX queues every INSERT behind any long read of the table until it gets its lock.
That is what ``django.contrib.postgres.operations.RemoveIndexConcurrently`` does, but it only
knows indexes declared in ``Meta.indexes`` and only PostgreSQL, while these two come from field
options and the embedded SQLite must migrate too; so the SQL is issued here, per vendor. Each
step finds its index by its columns and is skipped when it is gone, so an interrupted run can be
run again. An operator who prefers to drop the indexes by hand first (``DROP INDEX CONCURRENTLY``)
can: this migration then only renames.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models.deletion import DO_NOTHING

TABLE = "audit_auditlog"
NEW_NAME = "audit_request_id"


def _indexes_on(schema_editor, column: str) -> list[str]:
    """Names of the plain (non-unique, non-key) indexes on exactly ``column`` of the table."""
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, TABLE)
    return sorted(
        name for name, info in constraints.items()
        if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == [column]
    )


def forwards(apps, schema_editor):
    quote = schema_editor.quote_name
    postgres = schema_editor.connection.vendor == "postgresql"
    drop = "DROP INDEX CONCURRENTLY IF EXISTS {}" if postgres else "DROP INDEX IF EXISTS {}"
    for name in _indexes_on(schema_editor, "user_id"):
        schema_editor.execute(drop.format(quote(name)))
    existing = _indexes_on(schema_editor, "request_id")
    for name in existing:
        if name.endswith("_like"):
            schema_editor.execute(drop.format(quote(name)))
    if NEW_NAME in existing:
        return
    plain = [name for name in existing if not name.endswith("_like")]
    if postgres and plain:
        schema_editor.execute(f"ALTER INDEX {quote(plain[0])} RENAME TO {quote(NEW_NAME)}")
        return
    for name in plain:  # SQLite cannot rename an index; its embedded table is small
        schema_editor.execute(drop.format(quote(name)))
    schema_editor.execute(f"CREATE INDEX {quote(NEW_NAME)} ON {quote(TABLE)} (request_id)")


def backwards(apps, schema_editor):
    """Back to the field indexes under the names Django gives them."""
    quote = schema_editor.quote_name
    plain = schema_editor._create_index_name(TABLE, ["request_id"])
    user = schema_editor._create_index_name(TABLE, ["user_id"])
    schema_editor.execute(f"DROP INDEX IF EXISTS {quote(NEW_NAME)}")
    schema_editor.execute(f"CREATE INDEX {quote(plain)} ON {quote(TABLE)} (request_id)")
    schema_editor.execute(f"CREATE INDEX {quote(user)} ON {quote(TABLE)} (user_id)")
    if schema_editor.connection.vendor == "postgresql":
        like = schema_editor._create_index_name(TABLE, ["request_id"], suffix="_like")
        schema_editor.execute(f"CREATE INDEX {quote(like)} ON {quote(TABLE)} (request_id varchar_pattern_ops)")


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("audit", "0003_audit_request_before_the_call"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditlog",
                    name="request_id",
                    field=models.CharField(blank=True, max_length=64),
                ),
                migrations.AlterField(
                    model_name="auditlog",
                    name="user",
                    field=models.ForeignKey(
                        blank=True, db_constraint=False, db_index=False, null=True, on_delete=DO_NOTHING,
                        related_name="+", to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditlog",
                    index=models.Index(fields=["request_id"], name=NEW_NAME),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
