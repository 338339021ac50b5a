"""Test settings: production settings with throwaway secrets. DATABASE_URL picks the database."""
import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("API_KEY_PEPPER", "test-pepper-not-for-production")
os.environ.setdefault("SECURE_COOKIES", "false")

from central_logger.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation in tests
# Tests don't run collectstatic; serve admin assets without the manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
