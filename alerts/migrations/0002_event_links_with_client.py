"""The "matching logs" link of the events recorded before it named the rule's client: from
`<PUBLIC_URL>/dashboard/logs?...` to `<PUBLIC_URL>/dashboard/<client slug>/logs?...`, so that a
reminder of such an event (which repeats the event's link) opens the right client's logs (the
dashboard's route without the client opened the client the reader used last)."""
from django.db import migrations

FORWARD = r"""
UPDATE alert_events AS e
   SET url = regexp_replace(e.url, '/dashboard/logs\?', '/dashboard/' || c.slug || '/logs?')
  FROM tenants_client AS c
 WHERE c.id = e.client_id AND e.url ~ '/dashboard/logs\?'
"""
BACKWARD = r"""
UPDATE alert_events AS e
   SET url = regexp_replace(e.url, '/dashboard/[^/?]+/logs\?', '/dashboard/logs?')
 WHERE e.url ~ '/dashboard/[^/?]+/logs\?'
"""


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial"), ("tenants", "0002_membership")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
