"""Notebook: a small multi-user notes service on SQLAlchemy's asyncio ORM and Postgres.

An example of a system of another shape than ChatDesk: its whole data path is
SQLAlchemy ``AsyncSession`` units of work (each holding its pooled connection and
its transaction throughout), and its activity log is written by fire-and-forget
tasks.  ``adapter.py`` is all the fuzzer needs; ``beta.py`` is a change that only an
interleaving inside a held session shows.
"""
