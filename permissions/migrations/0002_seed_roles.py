from django.db import migrations

from permissions.roles import roles_ensure


def seed_roles(apps, schema_editor):
    roles_ensure(apps.get_model("permissions", "Role"))


class Migration(migrations.Migration):
    dependencies = [("permissions", "0001_initial")]
    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]
