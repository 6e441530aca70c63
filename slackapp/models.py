"""Slack deliveries we have claimed, for installs without Redis (see ``slackapp.dedupe``)."""

from django.db import models


class SlackDelivery(models.Model):
    """One Slack event (or slash command / click) claimed for answering.

    The unique key is the atomic set-if-absent: of two concurrent deliveries of the
    same event only one INSERT succeeds.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"

    key = models.CharField(max_length=128, unique=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    claimed_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name_plural = "Slack deliveries"

    def __str__(self):
        return f"{self.key} ({self.state})"
