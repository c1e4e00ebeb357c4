"""Passwords in URLs never reach a message: in the authority or in the query string."""

from __future__ import annotations

import pytest

from isolation_fuzz.redaction import redact_url, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@h:6379/0", "redis://:***@h:6379/0"),
        ("postgresql://fuzz:hunter2@h/db", "postgresql://fuzz:***@h/db"),
        ("postgresql://h/db?sslmode=require&password=hunter2", "postgresql://h/db?sslmode=require&password=***"),
        ("http://h:8123/?user=u&PASS=hunter2", "http://h:8123/?user=u&PASS=***"),
        ("http://h/?secret=hunter2;token=hunter3", "http://h/?secret=***;token=***"),
        ("redis://h/0?db=1", "redis://h/0?db=1"),
        ("redis://", "redis://"),
        ("postgres:///db?password=hunter2", "postgres:///db?password=***"),
        ("redis://:hunter2@[::1", "<unparseable url>"),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "hunter2" not in redact_url(url)


def test_url_secrets_lists_every_password_raw_and_decoded() -> None:
    found = url_secrets("postgresql://u:p%40ss@h/db?password=hunter2&user=x")
    assert {"p%40ss", "p@ss", "hunter2"} <= set(found)
    assert "x" not in found
    assert url_secrets("redis://:hunter2@[::1") == ["hunter2"]
