"""Settings, read from the environment once, at import (as most FastAPI apps do)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    cache_prefix: str = "notes:"
    jwt_public_key: str = field(default="", repr=False)
    jwt_issuer: str = "notes-api"
    jwt_audience: str = "notes-web"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL", "postgresql://localhost/notes"),
            redis_url=os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
            cache_prefix=os.environ.get("CACHE_PREFIX", "notes:"),
            jwt_public_key=os.environ.get("JWT_PUBLIC_KEY", ""),
        )


settings = Settings.from_env()
