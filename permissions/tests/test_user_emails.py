"""One person, one user, one policy: e-mails are stored lower-cased, unique whatever their case,
and a user's policy is found by the user's id, never by an e-mail two rows could share."""

import importlib

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from permissions.models import Role, User
from permissions.policy.engine import snapshot_build
from permissions.selectors import user_policy_for
from permissions.services import user_create

pytestmark = pytest.mark.django_db


def migration():
    return importlib.import_module("permissions.migrations.0005_user_email_lower_unique")


INLINES_EMPTY = {
    f"{prefix}-{name}": 0
    for prefix in ("overrides", "api_keys")
    for name in ("TOTAL_FORMS", "INITIAL_FORMS")
}


def add_user_in_admin(client, email: str, role: str = "contractor"):
    return client.post(
        "/admin/permissions/user/add/",
        {
            "email": email,
            "role": Role.objects.get(name=role).pk,
            "password1": "a-long-Passw0rd-here",
            "password2": "a-long-Passw0rd-here",
            **INLINES_EMPTY,
        },
    )


def change_form_data(client, user) -> dict:
    from permissions.tests.test_policy_admin import form_data

    data = form_data(client.get(f"/admin/permissions/user/{user.pk}/change/"))
    joined = data.pop("date_joined")
    return {
        **data,
        "date_joined_0": joined.date().isoformat(),
        "date_joined_1": joined.time().strftime("%H:%M:%S"),
    }


def test_admin_refuses_to_add_an_email_that_differs_only_in_case(admin_client, make_user):
    make_user(role="contractor", email="contractor@partner.com")
    response = add_user_in_admin(admin_client, "Contractor@Partner.com", role="admin")
    assert response.status_code == 200  # the form again, with the error
    assert "already exists" in response.content.decode()
    assert list(
        User.objects.filter(email__iexact="contractor@partner.com").values_list("email", flat=True)
    ) == ["contractor@partner.com"]


def test_admin_stores_a_new_users_email_in_lower_case(admin_client, roles):
    response = add_user_in_admin(admin_client, "  New.Person@Partner.COM ")
    assert response.status_code == 302, response.content
    assert User.objects.filter(email="new.person@partner.com").exists()


def test_admin_change_lower_cases_the_email_and_refuses_another_users_in_other_case(
    admin_client, make_user
):
    make_user(email="taken@partner.com")
    user = make_user(email="mine@partner.com")
    url = f"/admin/permissions/user/{user.pk}/change/"
    data = change_form_data(admin_client, user)

    refused = admin_client.post(url, {**data, "email": "Taken@Partner.com"})
    assert refused.status_code == 200 and "already exists" in refused.content.decode()
    assert admin_client.post(url, {**data, "email": "Mine.Renamed@Partner.com"}).status_code == 302
    user.refresh_from_db()
    assert user.email == "mine.renamed@partner.com"


def test_the_database_refuses_two_users_whose_emails_differ_only_in_case(make_user):
    make_user(role="contractor", email="contractor@partner.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        # create() skips every normalising path: the constraint is the last line.
        User.objects.create(email="Contractor@Partner.com", role=Role.objects.get(name="admin"))


def test_the_services_and_the_manager_store_lower_case(roles):
    assert user_create(email=" Ann@X.COM ", role="dba").email == "ann@x.com"
    assert User.objects.create_superuser(" Root@X.com", "pw").email == "root@x.com"
    with pytest.raises(IntegrityError), transaction.atomic():
        user_create(email="ANN@x.com", role="admin")


def test_add_user_stores_lower_case_and_refuses_the_same_address_in_other_case(roles, capsys):
    call_command("add_user", "--email", " Dee@Example.COM ", "--role", "dba")
    assert User.objects.get(email="dee@example.com").role.name == "dba"
    with pytest.raises(CommandError, match="already exists"):
        call_command("add_user", "--email", "DEE@example.com", "--role", "admin")
    with pytest.raises(CommandError, match="not an e-mail address"):
        call_command("add_user", "--email", "nobody", "--role", "dba")


def test_import_stores_lower_case_and_merges_with_the_existing_user(write_yaml, make_user):
    user = make_user(role="read_only", email="bob@x.com")
    User.objects.filter(pk=user.pk).update(email="Bob@X.com")  # a spelling stored before this rule
    path = write_yaml(
        "users.yaml",
        """
users:
  - {email: BOB@x.COM, role: dba}
super_admins:
  - {email: Root@Example.com}
""",
    )
    call_command("import_policy", users=str(path))
    assert list(User.objects.values_list("email", "role__name").order_by("email")) == [
        ("bob@x.com", "dba"),
        ("root@example.com", "super_admin"),
    ]


def test_a_users_policy_is_found_by_id_so_an_email_can_never_lend_one(make_user):
    # The old failure: two rows whose e-mails differ only in case shared one policy entry, so
    # the contractor's API key got the super admin's policy. Built here as plain policy data,
    # since the database can no longer hold such rows.
    snapshot = snapshot_build(
        {
            "users": [
                {
                    "id": 1,
                    "email": "contractor@partner.com",
                    "role": "contractor",
                    "allowed_databases": ["training_db"],
                },
                {
                    "id": 2,
                    "email": "Contractor@Partner.com",
                    "role": "super_admin",
                    "is_super_admin": True,
                },
            ]
        }
    )
    contractor = user_policy_for(
        User(pk=1, email="contractor@partner.com", is_active=True), snapshot
    )
    owner = user_policy_for(User(pk=2, email="Contractor@Partner.com", is_active=True), snapshot)
    assert (contractor.role, contractor.allowed_databases.patterns) == (
        "contractor",
        ("training_db",),
    )
    assert owner.role == "super_admin"


def drop_email_constraint():
    # Inside the test's transaction, so the rollback brings it back (PostgreSQL and SQLite).
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name('user_email_ci_unique')}")


def test_the_migration_reports_clashing_emails_and_changes_nothing(make_user):
    drop_email_constraint()
    make_user(email="contractor@partner.com")
    User.objects.create(email="Contractor@Partner.com", role=Role.objects.get(name="admin"))
    make_user(email="Solo@Partner.com")
    with pytest.raises(migration().EmailCaseClash) as caught:
        migration().emails_lowercase(apps, None)
    message = str(caught.value)
    assert "'Contractor@Partner.com', 'contractor@partner.com'" in message
    assert "Solo" not in message and "Nothing was changed" in message and "migrate" in message
    assert set(User.objects.values_list("email", flat=True)) == {
        "contractor@partner.com",
        "Contractor@Partner.com",
        "solo@partner.com",
    }


def test_the_migration_lower_cases_emails_that_do_not_clash(make_user):
    user = make_user(email="solo@partner.com")
    User.objects.filter(pk=user.pk).update(email=" Solo@Partner.COM")
    migration().emails_lowercase(apps, None)
    user.refresh_from_db()
    assert user.email == "solo@partner.com"
