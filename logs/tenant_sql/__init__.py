"""Every hand-written SQL statement over the tenant tables, and nothing else.

The tenant tables are `workflow_logs` (and its time partitions), the idempotency keys
`logs_event_ids`, and the metrics rollup (`logs_rollup`, `logs_rollup_pending`,
`logs_rollup_version`). Code anywhere else reads and writes them through
the functions of this package; `logs/tests/test_architecture.py` fails when SQL naming one of
them appears outside it (migrations and tests aside).

The rule every function here follows, so that tenant isolation is visible in one place:

* it takes the tenant (`client`) as its first argument;
* the tenant is the first condition of every WHERE clause it builds (`client_id = %s AND ...`),
  and the first column of every row it writes;
* any other SQL text it accepts (a filter condition, an ORDER BY) comes from code, with
  placeholders only; every value travels as a parameter.

What must work across tenants (the rollup flusher, the backfill of every client's rollup, the
time partitions' maintenance and retention's partition drops) is in `across_tenants.py` and
`partitions.py`, and each such function's name starts with `dangerously_`, so a reviewer sees
every place that leaves the tenant scope (the partitions' catalog readers and locks read no rows).

Modules: `writes` (the one insert statement builder, used by single and batch ingestion and by
the spool's drain; retention's deletes), `reads` (list pages, one log, counts, estimates, the
export stream, metric scans), `rollup` (the metrics rollup's statements), `across_tenants`,
`partitions` (creating, detaching and settling time partitions).
"""
