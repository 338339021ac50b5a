"""A per-client version of the stored rollup, so readers can keep its sums in memory.

Every statement that changes `logs_rollup` (the flusher's fold, a recount after DELETE/UPDATE,
the rebuild command, TRUNCATE, an operator's hand-made fix) gives each client it touched a new
version, drawn from a sequence, in the same transaction. A reader that sees version V in its
snapshot therefore sees exactly the rollup rows of every other snapshot showing V: the sums it
computed from the stored rows under V are still exact (logs/rollups.py adds the pending rows and
the raw edges of the period on every read, in the same statement that reads the version).

Why a trigger on the rollup table rather than calls in each writer: it is the one place no
writer can forget. Lock order is unchanged: the version row of a client is updated after its
advisory lock is held, by the same transactions that already wrote that client's rollup rows,
and the flusher updates several clients' rows in client order.
"""
from django.db import migrations

FORWARD = r"""
CREATE SEQUENCE logs_rollup_version_seq;
CREATE TABLE logs_rollup_version (
    client_id bigint PRIMARY KEY,
    version bigint NOT NULL
);
COMMENT ON TABLE logs_rollup_version IS
    'Per client: a new value from logs_rollup_version_seq at every change of its logs_rollup rows.';

CREATE FUNCTION logs_rollup_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO logs_rollup_version AS v (client_id, version)
    SELECT c, nextval('logs_rollup_version_seq')
      FROM (SELECT DISTINCT client_id AS c FROM changed ORDER BY 1) AS touched
    ON CONFLICT (client_id) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END
$$;

CREATE FUNCTION logs_rollup_bump_all_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE logs_rollup_version SET version = nextval('logs_rollup_version_seq');
    RETURN NULL;
END
$$;

CREATE TRIGGER logs_rollup_version_insert AFTER INSERT ON logs_rollup
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_bump_version();
CREATE TRIGGER logs_rollup_version_update AFTER UPDATE ON logs_rollup
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_bump_version();
CREATE TRIGGER logs_rollup_version_delete AFTER DELETE ON logs_rollup
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_bump_version();
CREATE TRIGGER logs_rollup_version_truncate AFTER TRUNCATE ON logs_rollup
    FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_bump_all_versions();

INSERT INTO logs_rollup_version (client_id, version)
SELECT client_id, nextval('logs_rollup_version_seq') FROM (SELECT DISTINCT client_id FROM logs_rollup) AS c;
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS logs_rollup_version_insert ON logs_rollup;
DROP TRIGGER IF EXISTS logs_rollup_version_update ON logs_rollup;
DROP TRIGGER IF EXISTS logs_rollup_version_delete ON logs_rollup;
DROP TRIGGER IF EXISTS logs_rollup_version_truncate ON logs_rollup;
DROP FUNCTION IF EXISTS logs_rollup_bump_all_versions();
DROP FUNCTION IF EXISTS logs_rollup_bump_version();
DROP TABLE IF EXISTS logs_rollup_version;
DROP SEQUENCE IF EXISTS logs_rollup_version_seq;
"""


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FORWARD)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("logs", "0007_rollup_pending")]
    operations = [migrations.RunPython(forward, backward)]
