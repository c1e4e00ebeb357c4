"""A password in a service URL's query string reaches neither stdout nor summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isolation_fuzz.cli import main
from isolation_fuzz.services._embedded import start_postgres

SECRET = "hunter2-query-s3cret"


def test_a_query_string_password_is_redacted_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = start_postgres()  # trusts its local socket, so the password is simply unused
    try:
        sep = "&" if "?" in engine.url else "?"
        url = f"{engine.url}{sep}password={SECRET}"
        code = main([
            "run", "--quiet", "--max-examples", "2", "--seed", "1", "--postgres-url", url,
            "--report-dir", str(tmp_path), "--corpus", "none",
        ])
    finally:
        engine.stop()
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "password=***" in out
    assert SECRET not in out + err
    (summary,) = tmp_path.glob("*/summary.json")
    text = summary.read_text()
    assert SECRET not in text
    assert "password=***" in json.loads(text)["services"]["postgres"]
