"""The audit trail (append-only) and the database fallback of the rate limiter."""

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit row: the trail is append-only."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: update() is refused.")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: delete() is refused.")

    def bulk_update(self, objs, fields, batch_size=None):
        # Refused up front: refusing inside Django's own atomic block would poison the transaction.
        raise AppendOnlyError(
            f"{self.model.__name__} rows are append-only: bulk_update() is refused."
        )


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(
                f"{type(self).__name__} rows are append-only: they cannot be changed."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(
            f"{type(self).__name__} rows are append-only: they cannot be deleted."
        )


class Source(models.TextChoices):
    SLACK = "slack"
    API = "api"
    MCP = "mcp"


class Status(models.TextChoices):
    SUCCESS = "success"
    ERROR = "error"
    WARNING = "warning"
    DENIED = "denied"
    RATE_LIMITED = "rate_limited"


class ToolCallStatus(models.TextChoices):
    SUCCESS = "success"
    ERROR = "error"
    DENIED = "denied"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"


class AuditRequest(AppendOnlyModel):
    """A request recorded durably before anything runs (no record, no call).

    Its outcome is the ``AuditLog`` row that names it (``AuditLog.request_record``). A request
    with no outcome ran into an outage or a crash after it was recorded: what it asked for is
    known, what came of it is not (admin lists them).
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    user_email = models.CharField(max_length=254, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    message = models.TextField(
        blank=True, help_text='The question, or "mcp.tool" of a direct call.'
    )
    mcp = models.CharField(max_length=100, blank=True)
    tool = models.CharField(max_length=200, blank=True)
    arguments = models.JSONField(default=dict, blank=True, help_text="Secrets redacted.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit request"

    def __str__(self):
        return f"request #{self.pk} {self.user_email or 'anonymous'} {self.message[:60]}"


class AuditLog(AppendOnlyModel):
    """One chat request, direct tool call, denial or rate-limit refusal: its outcome."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No database constraint and DO_NOTHING: deleting a user must neither cascade nor
    # UPDATE these rows (the trigger would refuse); e-mail and role are kept as written.
    # No index of its own: ``audit_user_time`` leads with the user and serves those lookups.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    user_email = models.CharField(max_length=254, blank=True)
    user_role = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    message = models.TextField(blank=True)
    answer_preview = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    iterations = models.PositiveSmallIntegerField(default=0)
    model = models.CharField(max_length=100, blank=True)
    tokens_input = models.PositiveIntegerField(default=0)
    tokens_output = models.PositiveIntegerField(default=0)
    tokens_cache_read = models.PositiveIntegerField(default=0)
    tokens_cache_write = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    tools_called = models.JSONField(
        default=list, blank=True, help_text='"mcp.tool" names, in call order.'
    )
    mcps_accessed = models.JSONField(default=list, blank=True)
    slack_user_id = models.CharField(max_length=32, blank=True)
    slack_channel = models.CharField(max_length=32, blank=True)
    slack_message_ts = models.CharField(max_length=32, blank=True)
    slack_thread_ts = models.CharField(max_length=32, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # The durable record written before the request ran; empty for rows written before it
    # existed and for refusals that never reached the point of recording (none today).
    request_record = models.OneToOneField(
        AuditRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="outcome",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log"
        indexes = [
            models.Index(fields=["user", "created_at"], name="audit_user_time"),
            models.Index(fields=["user_email", "created_at"], name="audit_email_time"),
            models.Index(fields=["status", "created_at"], name="audit_status_time"),
            models.Index(fields=["source", "created_at"], name="audit_source_time"),
            models.Index(fields=["model", "created_at"], name="audit_model_time"),
            # A plain b-tree: request ids are matched with "=" only, so PostgreSQL's extra
            # varchar_pattern_ops copy that db_index=True adds (for LIKE) would be dead weight.
            models.Index(fields=["request_id"], name="audit_request_id"),
            # The dashboard's slowest and costliest requests of a period: read backwards until
            # ten rows of the period are found (a scan of the period's rows otherwise: ~0.5 s
            # for 90 days of a million rows, bench/dashboard.py).
            models.Index(fields=["duration_ms", "id"], name="audit_duration"),
            models.Index(fields=["cost_usd", "id"], name="audit_cost"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.user_email or 'anonymous'} {self.source} {self.status}"


class ToolCallLog(AppendOnlyModel):
    """One tool call made (or refused) inside an audited request."""

    audit = models.ForeignKey(AuditLog, on_delete=models.PROTECT, related_name="tool_calls")
    # Copied from the parent so per-MCP and per-tool reports over a period need no join.
    created_at = models.DateTimeField(db_index=True)
    mcp = models.CharField(max_length=100)
    tool = models.CharField(max_length=200)
    arguments = models.JSONField(default=dict, blank=True, help_text="Secrets redacted.")
    status = models.CharField(max_length=16, choices=ToolCallStatus.choices)
    duration_ms = models.PositiveIntegerField(default=0)
    result_size = models.PositiveIntegerField(default=0)
    denial_reason = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "tool call log"
        indexes = [
            models.Index(fields=["mcp", "created_at"], name="toolcall_mcp_time"),
            models.Index(fields=["mcp", "tool", "created_at"], name="toolcall_tool_time"),
        ]

    def __str__(self):
        return f"{self.mcp}.{self.tool} ({self.status})"


class RateLimitHit(models.Model):
    """One counted request of the database-backed limiter (used when Redis is absent)."""

    key = models.CharField(max_length=200)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["key", "at"], name="ratelimit_key_at")]

    def __str__(self):
        return f"{self.key} at {self.at:%Y-%m-%d %H:%M:%S}"


# --- Dashboard rollups -------------------------------------------------------------------------
# Daily sums of the audit tables for the admin dashboard, kept by database triggers (migration
# 0005) in the same statement as the rows they count: no application code writes them, so every
# write path (the ORM, the one-statement INSERT on PostgreSQL, the async gateway, raw SQL) is
# counted, and a maintenance UPDATE or DELETE of audit rows moves or removes its share. Days are
# UTC days. Money is integer micro-dollars (cost_usd has six decimals): exact sums everywhere.


class TriggerMaintainedModel(models.Model):
    """A table only the database writes: the ORM refuses to save or delete its rows."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are kept by database triggers.")

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are kept by database triggers.")


class AuditDailyRollup(TriggerMaintainedModel):
    """Requests, cost and tokens of one UTC day, per model and status."""

    day = models.DateField()
    model = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16)
    requests = models.BigIntegerField(default=0)
    cost_micros = models.BigIntegerField(default=0, help_text="USD × 1,000,000.")
    tokens_input = models.BigIntegerField(default=0)
    tokens_output = models.BigIntegerField(default=0)
    tokens_cache_read = models.BigIntegerField(default=0)
    tokens_cache_write = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "model", "status"], name="rollup_day_model")
        ]

    def __str__(self):
        return f"{self.day} {self.model or '-'} {self.status}: {self.requests}"


class AuditUserDailyRollup(TriggerMaintainedModel):
    """Requests and cost of one UTC day per user (``user_id`` 0: a row without a user)."""

    day = models.DateField()
    # A plain number, like the audit row's user: rows outlive users.
    user_id = models.BigIntegerField()
    requests = models.BigIntegerField(default=0)
    cost_micros = models.BigIntegerField(default=0, help_text="USD × 1,000,000.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "user_id"], name="rollup_day_user")]

    def __str__(self):
        return f"{self.day} user {self.user_id}: {self.requests}"


class ToolCallDailyRollup(TriggerMaintainedModel):
    """Tool calls of one UTC day per MCP, tool and status."""

    day = models.DateField()
    mcp = models.CharField(max_length=100)
    tool = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    calls = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "mcp", "tool", "status"], name="rollup_day_tool")
        ]

    def __str__(self):
        return f"{self.day} {self.mcp}.{self.tool} {self.status}: {self.calls}"


class ToolCallDurationRollup(TriggerMaintainedModel):
    """How many calls that reached an MCP (not denied) took ``bucket_ms`` on one UTC day.

    ``bucket_ms`` is the duration cut to two significant figures (1,234 ms → 1,200 ms; below
    100 ms exact): percentiles read from it are exact below 100 ms and within 10 % above.
    """

    day = models.DateField()
    mcp = models.CharField(max_length=100)
    bucket_ms = models.BigIntegerField()
    calls = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "mcp", "bucket_ms"], name="rollup_day_mcp_ms")
        ]

    def __str__(self):
        return f"{self.day} {self.mcp} {self.bucket_ms} ms: {self.calls}"
