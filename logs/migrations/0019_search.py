"""Full-text search of logs (logs/search.py): the index table, its queue, and the triggers.

* `logs_search_docs` (client_id, log_id, executed_at, doc tsvector): one row per indexed log.
  Two indexes, both with the client first: a GIN over (client_id, doc) (btree_gin lets a GIN
  index hold the client's id beside the words, so a search reads only its tenant's entries) and
  a btree (client_id, executed_at DESC, log_id DESC) for "the newest logs with a common word",
  where walking the newest docs and testing each is cheaper than collecting every match.
* `logs_search_pending` (client_id, log_id, executed_at): the logs to (re)index. The insert and
  update triggers only queue the id here (statement level, from the transition table): building
  the words of a 3-6 KB payload is Python work done by the indexer (logs/search_indexer.py), off
  the ingestion path, in batches.
* The delete trigger removes a deleted log's doc and queue row in the deleting transaction
  (retention's batched deletes); a dropped partition's docs are removed by its settling
  (logs/partitions.py); TRUNCATE empties both.
* `logs_search_backfill`: where the backfill of logs stored before this migration stands
  (`manage.py index_search --backfill`, or the indexer when its queue is empty): the last
  (executed_at, id) done, newest first, and whether it is done. A new install has nothing to
  backfill.

The triggers are on the partitioned table, so they fire for rows of every partition; rows moved
straight between partitions by the partition maintenance keep their id and are not queued.
"""
from django.db import migrations

FORWARD = r"""
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE logs_search_docs (
    client_id bigint NOT NULL,
    log_id uuid NOT NULL,
    executed_at timestamptz NOT NULL,
    doc tsvector NOT NULL,
    PRIMARY KEY (client_id, log_id)
);
CREATE INDEX logs_search_docs_words ON logs_search_docs USING gin (client_id, doc);
CREATE INDEX logs_search_docs_recent ON logs_search_docs (client_id, executed_at DESC, log_id DESC);

CREATE TABLE logs_search_pending (
    client_id bigint NOT NULL,
    log_id uuid NOT NULL,
    executed_at timestamptz NOT NULL
);
-- The indexer takes the newest first by it, and the delete trigger finds a log's row by it.
CREATE INDEX logs_search_pending_log ON logs_search_pending (log_id);

CREATE TABLE logs_search_backfill (
    id smallint PRIMARY KEY CHECK (id = 1),
    after_executed_at timestamptz,
    after_id uuid,
    done boolean NOT NULL,
    indexed bigint NOT NULL DEFAULT 0
);
INSERT INTO logs_search_backfill (id, done) SELECT 1, NOT EXISTS (SELECT 1 FROM workflow_logs);

CREATE FUNCTION logs_search_on_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO logs_search_pending (client_id, log_id, executed_at)
    SELECT client_id, id, executed_at FROM new_rows;
    RETURN NULL;
END
$$;

CREATE FUNCTION logs_search_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM logs_search_docs d USING old_rows o WHERE d.client_id = o.client_id AND d.log_id = o.id;
    DELETE FROM logs_search_pending p USING old_rows o WHERE p.log_id = o.id AND p.client_id = o.client_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION logs_search_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE logs_search_docs, logs_search_pending;
    RETURN NULL;
END
$$;

CREATE TRIGGER logs_search_insert AFTER INSERT ON workflow_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_search_on_write();
CREATE TRIGGER logs_search_update AFTER UPDATE ON workflow_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_search_on_write();
CREATE TRIGGER logs_search_delete AFTER DELETE ON workflow_logs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_search_on_delete();
CREATE TRIGGER logs_search_truncate AFTER TRUNCATE ON workflow_logs
    FOR EACH STATEMENT EXECUTE FUNCTION logs_search_on_truncate();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS logs_search_insert ON workflow_logs;
DROP TRIGGER IF EXISTS logs_search_update ON workflow_logs;
DROP TRIGGER IF EXISTS logs_search_delete ON workflow_logs;
DROP TRIGGER IF EXISTS logs_search_truncate ON workflow_logs;
DROP FUNCTION IF EXISTS logs_search_on_write();
DROP FUNCTION IF EXISTS logs_search_on_delete();
DROP FUNCTION IF EXISTS logs_search_on_truncate();
DROP TABLE IF EXISTS logs_search_backfill;
DROP TABLE IF EXISTS logs_search_pending;
DROP TABLE IF EXISTS logs_search_docs;
"""


class Migration(migrations.Migration):
    dependencies = [("logs", "0018_usage_rollup")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
