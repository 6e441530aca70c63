"""Who a Slack user is in OMNI2: the stored Slack id, else the Slack profile's e-mail."""

import logging

from permissions.models import User
from permissions.selectors import user_resolve
from permissions.services import user_slack_id_link

from .client import slack_user_email

logger = logging.getLogger(__name__)


def slack_user_resolve(*, slack_user_id: str) -> User | None:
    """The OMNI2 user behind a Slack id: stored id, else the Slack profile's e-mail, else None.

    None means the default user. A match by e-mail stores the Slack id on the user, so
    Slack is asked only once per person.
    """
    user = user_resolve(slack_user_id=slack_user_id)
    if user is not None:
        return user
    email = slack_user_email(slack_user_id=slack_user_id)
    user = user_resolve(email=email) if email else None
    if user is not None and not user.slack_user_id:
        if not user_slack_id_link(user=user, slack_user_id=slack_user_id):
            logger.warning("slack: Slack id %s already belongs to another account", slack_user_id)
    return user
