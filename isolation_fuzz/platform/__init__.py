"""The bundled reference platform: a small multi-user agent backend to fuzz.

What lives here: a real system under test, built the way the backends this tool is
for are built: JWT authentication (``auth``), the execution contexts and the
abstract user data context (``context``) with one per engine, over Redis
(``redis_context``), Postgres with row-level security (``postgres_context``) and
ClickHouse (``clickhouse_context``), the tables and the pools kept open on them
(``schema``), an agent engine that runs tool plans (``engine``), a WebSocket event
emitter and server (``events``, ``server``) and the client the fuzzer reads events
through (``wsclient``), and the adapter that presents it as a
:class:`isolation_fuzz.target.Target` (``reference``).  ``bugs/`` holds its
seeded-bug variants, one small module each.

Who may import it: the zoo runner, the CLI, tests and benchmarks.  The engine never
does: it reaches the platform by name through the target registry, which loads it
lazily.  The platform itself uses the engine's records and the services, never the
engine's search.
"""
