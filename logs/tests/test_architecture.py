"""The architecture, held by tests: the apps' imports go one way, nobody uses another app's
private names, SQL over the tenant tables lives only in logs/tenant_sql, production settings do
not install the benchmark tooling, and no module or request-path function outgrows its budget."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("central_logger", "tenants", "logs", "scrubbing", "spool", "ingestion", "otel", "metrics", "query",
        "retention", "console", "alerts", "savedviews", "bench")
# What each app may import (besides itself). central_logger is the project's plumbing (settings,
# errors, database guards, rate limits), below every app; its composition modules (the URL
# routes, the joined logs viewset, the dashboard page) sit above them all.
ALLOWED = {
    "central_logger": set(),
    "tenants": {"central_logger"},
    "logs": {"central_logger", "tenants"},
    # Scrubbing sits right above logs: every ingest path (ingestion, the spool's drain of logs
    # spooled without the tenant's settings, OpenTelemetry) calls it before storing, and
    # its scrub_logs rewrites stored logs through logs/tenant_sql; it never needs them back.
    "scrubbing": {"central_logger", "tenants", "logs"},
    "spool": {"central_logger", "tenants", "logs", "scrubbing"},
    "ingestion": {"central_logger", "tenants", "logs", "scrubbing", "spool"},
    # OpenTelemetry in: beside ingestion, whose validation, storage policy and spool it reuses;
    # its tables are in logs (logs/tenant_sql/traces.py), so the read API and retention reach
    # them without importing it. Nothing imports otel but the routes.
    "otel": {"central_logger", "tenants", "logs", "scrubbing", "spool", "ingestion"},
    "metrics": {"central_logger", "tenants", "logs"},
    "query": {"central_logger", "tenants", "logs", "metrics"},
    "retention": {"central_logger", "tenants", "logs"},
    "console": {"central_logger", "tenants", "logs", "metrics", "scrubbing"},
    # Alerts evaluate a tenant's logs (the rollup through metrics, windows through logs/tenant_sql)
    # and notify; nothing below them knows they exist.
    "alerts": {"central_logger", "tenants", "logs", "metrics"},
    # Saved views are people's bookmarks of dashboard pages: they know clients and users, never logs.
    "savedviews": {"central_logger", "tenants"},
    "bench": set(APPS),
}
COMPOSITION = {"central_logger/urls.py", "central_logger/api.py", "central_logger/dashboard.py"}
TENANT_TABLES = re.compile(r"\b(workflow_logs|logs_rollup(_pending|_version)?|logs_event_ids|alert_(rules|events|deliveries)"
                           r"|trace_spans|trace_log_records|logs_search_(docs|pending|backfill))\b")
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|JOIN|COPY|TRUNCATE|VACUUM|ANALYZE|LOCK)\b", re.I)


def source_files() -> list[Path]:
    """Every module of the service (tests and migrations are not the service)."""
    return [path for app in APPS for path in (ROOT / app).rglob("*.py")
            if "tests" not in path.parts and "migrations" not in path.parts]


def app_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in APPS else None


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def test_imports_between_apps_go_one_way() -> None:
    wrong = []
    for path in source_files():
        relative = str(path.relative_to(ROOT))
        app = path.relative_to(ROOT).parts[0]
        if relative in COMPOSITION:
            continue
        for module, _names, line in imports(path):
            other = app_of(module)
            if other is not None and other != app and other not in ALLOWED[app]:
                wrong.append(f"{relative}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_tenants_imports_nothing_from_the_log_apps() -> None:
    log_apps = {"logs", "scrubbing", "spool", "ingestion", "otel", "metrics", "query", "retention", "console",
                "alerts"}
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for path in (ROOT / "tenants").rglob("*.py") if "tests" not in path.parts
             for module, _names, line in imports(path) if app_of(module) in log_apps]
    assert not wrong, "\n".join(wrong)


def _private_uses(path: Path, app: str) -> list[str]:
    tree = ast.parse(path.read_text())
    other_modules: dict[str, str] = {}  # local name -> module of another app
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and app_of(node.module) not in (None, app):
            for alias in node.names:
                if alias.name.startswith("_"):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}.{alias.name}")
                other_modules[alias.asname or alias.name] = node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if app_of(alias.name) not in (None, app):
                    other_modules[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and node.attr != "_meta"  # Django's public model API
                and isinstance(node.value, ast.Name) and node.value.id in other_modules):
            wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}")
    return wrong


def test_no_app_uses_another_apps_private_names() -> None:
    wrong = [use for path in source_files() for use in _private_uses(path, path.relative_to(ROOT).parts[0])]
    assert not wrong, "\n".join(wrong)


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of the file but docstrings (f-strings joined with their
    placeholders as {})."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
            found.append((node.lineno, text))
    return found


def test_sql_over_tenant_tables_lives_only_in_tenant_sql() -> None:
    """Outside logs/tenant_sql, no string names a tenant table beside SQL words, and no code
    builds SQL from WorkflowLog's table name. Not checked: migrations (they create the tables),
    tests, and the tooling that loads, wipes and benchmarks whole databases (bench/, scripts/),
    which the service never runs."""
    wrong = []
    for path in source_files():
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "bench" or relative.parts[:2] == ("logs", "tenant_sql"):
            continue
        for line, text in _strings(path):
            if TENANT_TABLES.search(text) and SQL_WORDS.search(text):
                wrong.append(f"{relative}:{line}: {text[:80]!r}")
        if "WorkflowLog._meta.db_table" in path.read_text():
            wrong.append(f"{relative}: builds SQL from WorkflowLog's table name")
    assert not wrong, "\n".join(wrong)


def test_every_tenant_sql_function_takes_the_client_first() -> None:
    """Every public function of logs/tenant_sql is scoped to one tenant (its first parameter is
    `client`), or is named as the escape hatch (`dangerously_...`), or takes no tenant data."""
    neutral = {"json_text", "stored_row", "ingest_timeout_sql", "read_connection", "run_list_count",
               # the partitions' catalog and locks (logs/tenant_sql/partitions.py): no rows read
               "partition_rows", "is_partitioned", "detached_tables", "partition_sizes", "try_runner_lock", "wait_runner_lock",
               "release_runner_lock", "ddl_transaction",
               # the Citus cluster's catalog and settings (logs/tenant_sql/citus.py): no rows read
               "is_active", "is_active_cached", "forget", "ensure_extension", "add_nodes", "worker_count",
               "persist_settings", "shard_placements"}
    wrong = []
    for path in (ROOT / "logs" / "tenant_sql").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_") or node.name in neutral:
                continue
            first = node.args.args[0].arg if node.args.args else None
            if first != "client" and not node.name.startswith("dangerously_"):
                wrong.append(f"{path.name}: {node.name}({first}, ...)")
    assert not wrong, "\n".join(wrong)


def test_production_settings_do_not_install_bench() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BENCHMARKS", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="central_logger.settings", DEBUG="true")
    code = "from django.conf import settings; print(','.join(settings.INSTALLED_APPS))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    installed = result.stdout.strip().split(",")
    assert "bench" not in installed and "ingestion" in installed


MAX_MODULE_LINES = 400


@pytest.mark.parametrize("app", APPS)
def test_modules_stay_under_the_size_budget(app: str) -> None:
    big = {str(path.relative_to(ROOT)): n for path in (ROOT / app).rglob("*.py")
           if "migrations" not in path.parts and "tests" not in path.parts
           and (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not big, big


MAX_COMPLEXITY = 15  # radon's C grade; `make complexity` lists the functions close to it


def test_no_function_is_too_complex() -> None:
    from radon.complexity import cc_visit

    wrong = []
    for path in source_files():
        if path.relative_to(ROOT).parts[0] == "bench":
            continue
        for block in cc_visit(path.read_text()):
            for item in [block, *getattr(block, "methods", []), *getattr(block, "closures", [])]:
                if item.complexity > MAX_COMPLEXITY:
                    wrong.append(f"{path.relative_to(ROOT)}:{item.lineno} {item.name}: {item.complexity}")
    assert not wrong, "\n".join(wrong)
