"""One reachability rule for every service, and a services face that lists itself."""

from __future__ import annotations

import anyio
import pytest

import isolation_fuzz.services as services
from isolation_fuzz.errors import MissingDependency, ServiceUnavailable
from isolation_fuzz.services._reach import reaching

pytestmark = pytest.mark.anyio

URL = "postgresql://fuzz:hunter2@db.example:5432/test"


async def test_a_slow_call_is_reported_as_timed_out() -> None:
    with pytest.raises(ServiceUnavailable) as info, reaching("postgres", URL, 0.05):
        await anyio.sleep(5)
    assert info.value.service == "postgres"
    assert info.value.reason == "timed out"
    assert info.value.where == "postgresql://fuzz:***@db.example:5432/test"
    assert "hunter2" not in str(info.value)
    assert isinstance(info.value.__cause__, TimeoutError)


async def test_a_driver_error_keeps_only_its_first_line() -> None:
    cause = OSError("connection refused\nDETAIL: a long driver explanation")
    where = "redis://127.0.0.1:1/0"
    with pytest.raises(ServiceUnavailable) as info, reaching("redis", where, 1):
        raise cause
    assert info.value.reason == "connection refused"
    assert info.value.__cause__ is cause
    assert "redis at 'redis://127.0.0.1:1/0' is not usable: connection refused." in str(info.value)


async def test_our_own_errors_pass_through_unchanged() -> None:
    missing = MissingDependency("clickhouse_connect")
    with pytest.raises(MissingDependency) as info, reaching("clickhouse", "chdb:///x", 1):
        raise missing
    assert info.value is missing


async def test_a_call_in_time_returns_its_value() -> None:
    async def answer() -> int:
        with reaching("redis", "redis://127.0.0.1:1/0", 1):
            return 42

    assert await answer() == 42


def test_the_services_face_lists_exactly_its_public_names() -> None:
    submodules = {"namespace", "lease"}  # bound on the package once imported; not part of the face
    public = {
        name
        for name in dir(services)
        if name[0] not in "_@" and name not in submodules and name != "annotations"
    }
    assert set(services.__all__) == public
