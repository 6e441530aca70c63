import uuid

from django.conf import settings
from django.db import models

from .mcp.models import McpServerStatus  # noqa: F401  (the registry's status page, see mcp/models.py)


class ChatJob(models.Model):
    """A chat question answered in the background (``POST /api/chat/ask/async``)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_jobs"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    request = models.JSONField(help_text="message, thread_id, model as submitted")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The claim (see orchestration.jobs): how many deliveries took the job, which one holds it
    # ("host:pid:token") and until when; a lease its worker stops renewing lets a redelivery in.
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["status", "updated_at"], name="chatjob_status_updated"),
        ]

    def __str__(self):
        return f"{self.id} ({self.status})"


class ThreadTurn(models.Model):
    """One question and its answer in a conversation thread (Slack thread or API thread_id).

    Kept in the database so every web and worker process sees the same memory;
    turns older than ``OMNI2_THREAD_TTL_SECONDS`` are ignored and purged.
    """

    thread_key = models.CharField(max_length=200)
    question = models.TextField()
    answer = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["thread_key", "-created_at"])]

    def __str__(self):
        return f"{self.thread_key} at {self.created_at:%Y-%m-%d %H:%M:%S}"
