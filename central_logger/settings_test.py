"""Test settings: production settings with throwaway secrets. DATABASE_URL picks the PostgreSQL server."""
import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("API_KEY_PEPPER", "test-pepper-not-for-production")
os.environ.setdefault("SECURE_COOKIES", "false")
# Creating and dropping the test database (migrations, CREATE INDEX) on a loaded CI machine can
# exceed the 5 s production default; the timeouts under test are set per test.
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "30000")
# Likewise the 1 s ingestion budget: on a loaded machine an ordinary insert can pass it and be
# (correctly) spooled with a 202, which is not what most tests are about. Tests of the budget
# itself set it explicitly.
os.environ.setdefault("INGEST_DB_TIMEOUT_MS", "10000")
# The suite on a Citus cluster (logs/tests/test_citus.py, README "Scaling past one machine"): the
# coordinator's database itself, distributed once by conftest.py (no test database is created:
# every node would need it, with the extension).
# Only in the test process itself: the servers a test starts (gunicorn, a drainer) inherit the
# variable but are given their own DATABASE_URL (a proxy the test cuts, a replica, nowhere).
if os.environ.get("CITUS_TEST_URL") and os.environ.setdefault("CITUS_TEST_PID", str(os.getpid())) == str(os.getpid()):
    os.environ["DATABASE_URL"] = os.environ["CITUS_TEST_URL"]
# The benchmark tooling's own tests run with the suite (production settings leave it out).
os.environ.setdefault("BENCHMARKS", "true")

from central_logger.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation in tests
# Tests don't run collectstatic; serve admin assets without the manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
