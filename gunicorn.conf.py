"""gunicorn settings, overridable from the environment (see README, Deployment)."""
import os

bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
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
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
# The master's pid, for restarts by signal (README, "Restarting without losing a request").
pidfile = os.environ.get("GUNICORN_PIDFILE") or None
errorlog = "-"


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
