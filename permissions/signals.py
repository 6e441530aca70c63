"""Any change to a policy row invalidates the shared policy snapshot once it commits.

Bulk writes (``update()``, ``bulk_create``) send no signals; the services that use them
call ``policy_changed()`` themselves.
"""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver
from oauth2_provider.models import AccessToken

from permissions.policy.snapshot import policy_changed, policy_invalidate

from .models import (
    ApiKey,
    DiscoveredTool,
    GlobalPolicy,
    McpProfile,
    McpServer,
    PolicyVersion,
    Role,
    RoleRestriction,
    User,
    UserOverride,
)
from .oauth.tokens import token_revocation_matters

# ApiKey is here so a revoked key stops working in every process at once: API key lookups
# are memoised under the policy version (permissions.services.api_key_authenticate).
POLICY_MODELS = (
    McpServer,
    GlobalPolicy,
    RoleRestriction,
    UserOverride,
    DiscoveredTool,
    Role,
    User,
    ApiKey,
    McpProfile,
)
# Saves that touch only these User fields change nothing the policy reads (logins).
_IRRELEVANT_USER_FIELDS = frozenset({"last_login", "password"})


def _on_policy_row_change(sender, update_fields=None, **kwargs):
    if sender is User and update_fields and set(update_fields) <= _IRRELEVANT_USER_FIELDS:
        return
    policy_changed()


for _model in POLICY_MODELS:
    post_save.connect(
        _on_policy_row_change, sender=_model, dispatch_uid=f"policy-save-{_model.__name__}"
    )
    post_delete.connect(
        _on_policy_row_change, sender=_model, dispatch_uid=f"policy-delete-{_model.__name__}"
    )


@receiver(post_delete, sender=AccessToken, dispatch_uid="policy-oauth-token-revoked")
def _on_access_token_deleted(sender, instance, **kwargs):
    # DOT revokes an access token by deleting its row (the revocation endpoint, a refresh, an
    # admin action, a replayed refresh token's family). Tokens are memoised under the policy
    # version (permissions.oauth.tokens), so a revocation publishes a new one.
    if token_revocation_matters(instance):
        policy_changed()


@receiver(post_migrate, dispatch_uid="policy-migrate")
def _on_migrate(app_config, using=DEFAULT_DB_ALIAS, **kwargs):
    # Migrations and ``flush`` (which tests run) rewrite rows without model signals.
    if app_config.label == "permissions":
        # Migrated back to before the version table existed: there is nothing to version.
        if PolicyVersion._meta.db_table in connections[using].introspection.table_names():
            policy_invalidate()
