"""When a client was deactivated: the spool drainer refuses logs accepted after it."""
from django.db import migrations, models


def backfill(apps, schema_editor):
    # Clients already inactive: their last change is the best estimate of when.
    Client = apps.get_model("tenants", "Client")
    Client.objects.filter(is_active=False).update(deactivated_at=models.F("updated_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0002_membership'),
    ]

    operations = [
        migrations.AddField(
            model_name='client',
            name='deactivated_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
