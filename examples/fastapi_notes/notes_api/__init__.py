"""Notes API: a small multi-user agent backend on FastAPI, Postgres, Redis and a WebSocket."""
