"""The log's status on its search doc (logs/search_indexer.py writes it with the words), so a
search with a status filter (`status=FAILED,ERROR`) skips the docs of other statuses on the
docs table itself: before, each matching doc's log had to be read to test its status, and a
word common among SUCCESS runs cost a read of the log per doc. NULL: a doc stored before this
migration (the search then tests the log, as before); the log's own status stays the final
test, so a doc whose status is stale for a moment (the log changed, not yet re-indexed) can
only delay a row, never show a wrong one."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("logs", "0019_search")]
    operations = [migrations.RunSQL("ALTER TABLE logs_search_docs ADD COLUMN status varchar(16)",
                                    "ALTER TABLE logs_search_docs DROP COLUMN IF EXISTS status")]
