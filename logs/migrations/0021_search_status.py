"""Two changes to the search docs (logs_search_docs, migration 0019).

The log's status on its search doc (logs/search_indexer.py writes it with the words), so a
search with a status filter (`status=FAILED,ERROR`) skips the docs of other statuses on the
docs table itself: before, each matching doc's log had to be read to test its status, and a
word common among SUCCESS runs cost a read of the log per doc. The index (client_id, status,
executed_at DESC, log_id DESC) lets such a search walk the newest docs of each status asked
for (the walk of a common word), never reading a doc of another status. NULL: a doc stored
before this migration (the search then tests the log, as before); the log's own status stays
the final test, so a doc whose status is stale for a moment (the log changed, not yet
re-indexed) can only delay a row, never show a wrong one.

The words (`doc`, a compressed tsvector of 3-4 KB for a 4 KB log) are kept in the table's own
pages up to 8 KB (toast_tuple_target, STORAGE MAIN) instead of PostgreSQL's default of moving
every value over 2 KB to the TOAST table: a search that tests docs one by one (common words,
phrases: positions are only in the doc) then reads one page per doc instead of a TOAST index
lookup and its chunks (a walk over 30,000 docs: 15,700 buffers instead of 95,000, 110 instead
of 161 ms warm). It applies to docs written from now on; older docs move as they are rewritten.
"""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("logs", "0020_rollup_cost")]
    operations = [
        migrations.RunSQL("ALTER TABLE logs_search_docs ADD COLUMN status varchar(16); "
                          "CREATE INDEX logs_search_docs_status ON logs_search_docs "
                          "(client_id, status, executed_at DESC, log_id DESC)",
                          "ALTER TABLE logs_search_docs DROP COLUMN IF EXISTS status"),
        migrations.RunSQL("ALTER TABLE logs_search_docs SET (toast_tuple_target = 8160); "
                          "ALTER TABLE logs_search_docs ALTER COLUMN doc SET STORAGE MAIN",
                          "ALTER TABLE logs_search_docs RESET (toast_tuple_target); "
                          "ALTER TABLE logs_search_docs ALTER COLUMN doc SET STORAGE EXTENDED"),
    ]
