"""Settings, read from the environment at import."""

from __future__ import annotations

import os

REDIS_HOST = os.environ.get("REDIS_HOST", "localhost")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("REDIS_DB", "0"))
KEY_PREFIX = os.environ.get("KEY_PREFIX", "tabs:")
JWT_SECRET = os.environ.get("JWT_SECRET", "")
