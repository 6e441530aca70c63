"""The roles OMNI2 ships with (SPEC §4.1)."""

# name -> (requests per hour, None = unlimited; is_admin; is_super_admin; description)
DEFAULT_ROLES = {
    "super_admin": (
        None,
        True,
        True,
        "System owners: everything, including globally blocked tools.",
    ),
    "admin": (None, True, False, "Administrators: admin-only tools, unlimited requests."),
    "dba": (200, False, False, "Database administrators."),
    "senior_dev": (150, False, False, "Senior developers."),
    "power_user": (100, False, False, "Regular developers."),
    "developer": (100, False, False, "Developers."),
    "qa_tester": (60, False, False, "QA: testing tools and reads."),
    "analyst": (60, False, False, "Analysts: reads and analytics."),
    "junior_dba": (50, False, False, "Junior staff."),
    "read_only": (30, False, False, "View only; also the default for unknown users."),
    "contractor": (20, False, False, "External users."),
}


def roles_ensure(role_model) -> None:
    """Create the default roles that are missing; an admin's edits to existing ones stay."""
    for name, (limit, is_admin, is_super, description) in DEFAULT_ROLES.items():
        role_model.objects.get_or_create(
            name=name,
            defaults={
                "requests_per_hour": limit,
                "is_admin": is_admin,
                "is_super_admin": is_super,
                "description": description,
            },
        )
