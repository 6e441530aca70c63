"""Who a caller is and what the live policy says about them."""

from collections.abc import Mapping

from .models import User
from .policy.engine import Decision, PolicySnapshot, UserPolicy, decide, user_policy_build
from .policy.rows import user_data_load
from .policy.snapshot import policy_snapshot


def user_policy_for(user: User | None, snapshot: PolicySnapshot | None = None) -> UserPolicy:
    """The policy of ``user`` in ``snapshot`` (the live one when omitted); None or an inactive
    user is the default user. Pass the snapshot you hold: it saves a read of the version."""
    snapshot = snapshot or policy_snapshot()
    if user is None or not user.is_active:
        return snapshot.default_user
    found = snapshot.users_by_id.get(
        user.pk
    )  # by id: an e-mail names a person, never keys a policy
    # A user created a moment ago may not be in this process's snapshot yet.
    return found or user_policy_build(user_data_load(user))


def user_resolve(*, email: str | None = None, slack_user_id: str | None = None) -> User | None:
    """The active user with this Slack id, else this e-mail; None when neither matches."""
    users = User.objects.filter(is_active=True).select_related("role")
    found = users.filter(slack_user_id=slack_user_id).first() if slack_user_id else None
    if found is None and email:
        found = users.filter(email__iexact=email.strip()).first()
    return found


def policy_decide(
    *, user: User | None, mcp: str, tool: str, arguments: Mapping | None = None
) -> Decision:
    """One decision against the live policy; the shortcut for views and the tool loop."""
    snapshot = policy_snapshot()
    return decide(snapshot, user_policy_for(user, snapshot), mcp, tool, arguments)
