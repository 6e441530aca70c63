"""The admin shows claimed Slack deliveries and lets nobody edit them."""

import pytest
from django.utils import timezone

from slackapp.models import SlackDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    user = make_user(role="super_admin", email="root@example.com", is_staff=True)
    user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_the_admin_lists_deliveries_and_refuses_edits(admin_client):
    delivery = SlackDelivery.objects.create(
        key="event:EvADMIN1", state="done", claimed_at=timezone.now()
    )
    listing = admin_client.get("/admin/slackapp/slackdelivery/")
    assert listing.status_code == 200 and b"event:EvADMIN1" in listing.content
    assert admin_client.get("/admin/slackapp/slackdelivery/add/").status_code == 403
    change = admin_client.post(
        f"/admin/slackapp/slackdelivery/{delivery.pk}/change/", {"state": "pending"}
    )
    assert change.status_code == 403
    delivery.refresh_from_db()
    assert delivery.state == "done"
