"""Linking a Slack id to a user goes through permissions' own service, and a clash changes nothing."""

import pytest

from permissions.models import User
from permissions.selectors import user_policy_for, user_resolve
from permissions.services import user_slack_id_link

pytestmark = pytest.mark.django_db


def test_it_stores_the_slack_id_and_the_policy_finds_the_user_by_it(make_user):
    user = make_user(role="developer")
    assert user_slack_id_link(user=user, slack_user_id="U0NEW") is True
    assert User.objects.get(pk=user.pk).slack_user_id == "U0NEW"
    assert user_resolve(slack_user_id="U0NEW") == user
    assert user_policy_for(user).role == "developer"


def test_an_id_held_by_another_account_leaves_both_alone(make_user):
    holder = make_user(slack_user_id="U0TAKEN")
    User.objects.filter(pk=holder.pk).update(is_active=False)
    other = make_user()
    assert user_slack_id_link(user=other, slack_user_id="U0TAKEN") is False
    assert not other.slack_user_id
    assert not User.objects.get(pk=other.pk).slack_user_id
    assert User.objects.get(pk=holder.pk).slack_user_id == "U0TAKEN"
