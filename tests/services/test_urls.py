"""Service URLs: a malformed one is bad input, refused before any engine starts."""

from __future__ import annotations

import pytest

from isolation_fuzz.errors import UsageError
from isolation_fuzz.services import ServiceConfig, check_url


@pytest.mark.parametrize(
    ("service", "url"),
    [
        ("redis", "redis://h"),
        ("redis", "redis://:pw@h:6379/0"),
        ("redis", "rediss://u:pw@[::1]:6380/2?db=3"),
        ("redis", "unix:///run/redis.sock"),
        ("postgres", "postgresql://u:p@h:5432/db"),
        ("postgres", "postgres://h1:1,h2:2/db"),
        ("postgres", "postgresql:///db?host=/var/run/postgresql"),
        ("clickhouse", "http://default:pw@h:8123"),
        ("clickhouse", "https://h"),
        ("clickhouse", "chdb://memory"),
    ],
)
def test_well_formed_urls_pass(service: str, url: str) -> None:
    check_url(service, url)


@pytest.mark.parametrize(
    ("service", "url", "said"),
    [
        ("redis", "redis://", "names no host"),
        ("redis", "redis://h:abc", "port 'abc'"),
        ("redis", "redis://h:70000", "port '70000'"),
        ("redis", "redis://h/zero", "database 'zero'"),
        ("redis", "redis://h?db=x", "?db='x'"),
        ("redis", "unix://", "no socket path"),
        ("redis", "localhost:6379", "scheme 'localhost'"),
        ("redis", "redis://:hunter2@[::1", "cannot be parsed"),
        ("postgres", "postgresql:///db", "names no host"),
        ("postgres", "mysql://h/db", "scheme 'mysql'"),
        ("postgres", "postgresql://h:x/db", "port 'x'"),
        ("clickhouse", "garbage", "no scheme"),
        ("clickhouse", "http://", "names no host"),
        ("clickhouse", "", "is empty"),
        ("clickhouse", "http://h ost", "whitespace"),
    ],
)
def test_malformed_urls_are_usage_errors(service: str, url: str, said: str) -> None:
    with pytest.raises(UsageError, match="write it as") as info:
        check_url(service, url)
    assert said in str(info.value)
    assert "hunter2" not in str(info.value)
    assert info.value.exit_code == 2


def test_a_config_with_a_malformed_url_cannot_be_made() -> None:
    with pytest.raises(UsageError, match="redis URL 'redis://' names no host"):
        ServiceConfig(redis_url="redis://")
    with pytest.raises(UsageError, match="clickhouse"):
        ServiceConfig.from_env({"ISOLATION_FUZZ_CLICKHOUSE_URL": "garbage"})
