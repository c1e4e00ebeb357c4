"""Settings, read from the environment at import."""

from __future__ import annotations

import os

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
KEY_PREFIX = os.environ.get("KEY_PREFIX", "tabs:")
JWT_SECRET = os.environ.get("JWT_SECRET", "")
