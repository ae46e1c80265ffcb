"""Settings of a server or worker a test starts with failing_parts mounted."""

from penpals.settings import *  # noqa: F403

ROOT_URLCONF = "tests.penpals.failing_parts"
CELERY_IMPORTS = ["tests.penpals.failing_parts"]
