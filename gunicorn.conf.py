"""gunicorn settings, overridable from the environment (see README, Deployment)."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the project, before gunicorn adds it
from central_logger import listen  # noqa: E402

# BIND, else HOST:PORT, from the environment or .env (as the settings read them).
bind = listen.bind()

# Prometheus multiprocess mode (central_logger/monitoring.py): each worker writes its metrics to
# files in this directory, which must exist before the app (and prometheus_client) loads, and
# start empty with each server (on_starting). Default: a directory of this master's own.
_own_metrics_dir = os.path.join(tempfile.gettempdir(), f"central-logger-metrics-{os.getpid()}")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = listen.configured("PROMETHEUS_MULTIPROC_DIR") or _own_metrics_dir
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Threaded workers whose main loop reads each request completely before a thread serves it
# (central_logger/gworker.py): a slow client costs a connection, never a thread or a database
# connection, and one that is too slow gets a 408 (REQUEST_HEADER_TIMEOUT, REQUEST_BODY_TIMEOUT).
# PostgreSQL concurrency stays bounded by the pool (DB_POOL_MAX_SIZE), not by the thread count.
worker_class = "central_logger.gworker.BufferingThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "64"))
# Open connections per worker (requests arriving, being served, kept alive).
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "4096"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
# Load the app once in the master: a replaced worker (after kill -9, or a SIGHUP reload) forks
# ready to serve instead of importing Django while requests queue, which kept chaos-test requests
# waiting past the client's 3 s. Code deploys then need a new master (restart or USR2).
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in ("1", "true", "yes", "on")
# LOG_FORMAT=json: the app writes one JSON line per request (central_logger/requestlog.py), so
# no access log by default, and gunicorn's own lines are JSON too.
_json_logs = listen.configured("LOG_FORMAT", "plain").lower() == "json"
accesslog = listen.configured("GUNICORN_ACCESSLOG", "" if _json_logs else "-") or None  # empty: none
# The master's pid, for restarts by signal (README, "Restarting without losing a request").
pidfile = os.environ.get("GUNICORN_PIDFILE") or None
errorlog = "-"
if _json_logs:
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "central_logger.requestlog.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }


def when_ready(server):  # noqa: ANN001, ANN201 - gunicorn hook signature
    """In the master, before the first fork (and kept across SIGHUP reloads): import every view
    once, so a new worker does not spend its first ~0.5 s of CPU on imports (central_logger/warmup.py)."""
    if preload_app:
        from central_logger.warmup import warm_master

        warm_master()


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn hook signature
    """Before this worker accepts: open its database pool and the spool, bounded by
    WORKER_WARMUP_SECONDS (central_logger/warmup.py), then start the apps' background loops
    (the spool drainer, so logs spooled before a restart are drained without waiting for the
    next ingestion request, and the metrics rollup flusher); then the garbage collector's
    thresholds (GC_GEN0_THRESHOLD)."""
    from central_logger.background import ensure_all
    from central_logger.warmup import tune_gc, warm_worker, warmup_timeout

    timeout = warmup_timeout()
    if timeout > 0:
        worker.log.info("worker warm-up: %s", warm_worker(timeout=timeout))
    ensure_all()
    worker.log.info("gc thresholds: %s", tune_gc())


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn hook signature
    """A new server counts from zero: no metrics files of an earlier one (not run on SIGHUP);
    default directories left by masters that were killed are removed."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.unlink(os.path.join(directory, name))
    prefix = "central-logger-metrics-"
    for name in os.listdir(tempfile.gettempdir()):
        if name.startswith(prefix) and name[len(prefix):].isdigit() and not _alive(int(name[len(prefix):])):
            shutil.rmtree(os.path.join(tempfile.gettempdir(), name), ignore_errors=True)


def _alive(pid):  # noqa: ANN001, ANN202
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook signature
    """A worker's live gauges (pool, breaker) leave the sums with it; its counts stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001, ANN201 - gunicorn hook signature
    if os.environ["PROMETHEUS_MULTIPROC_DIR"] == _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
