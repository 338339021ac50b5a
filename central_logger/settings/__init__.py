"""Central Logger settings: Django and the platform (base.py), then the apps' own (features.py).

Every value comes from the environment (or a `.env` file beside manage.py) through
django-environ; `.env.example` documents each variable. Bad values fail loudly at start-up.
"""
from central_logger.settings.base import *  # noqa: F401,F403
from central_logger.settings.features import *  # noqa: F401,F403
