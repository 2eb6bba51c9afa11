"""The ``cluster:`` block of the console's configuration: a node that cannot work in a cluster is refused at start,
with a message naming what is missing or wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from console_web.config import ClusterSettings, ConsoleConfig, load_console_config
from jumpoint.core.errors import ConfigError

POSTGRES = "postgresql+asyncpg://openjump@db.example.net:5432/openjump"
CLUSTER = {"node_id": "node1", "redis_url": "redis://redis.example.net:6379/0"}


def _config(cluster: dict[str, Any], **other: Any) -> ConsoleConfig:
    base: dict[str, Any] = {"database": {"url": POSTGRES}, "recordings": {"directory": "/shared/recordings"}}
    return ConsoleConfig.model_validate({**base, **other, "cluster": cluster})


def test_a_complete_cluster_block_is_accepted() -> None:
    config = _config({**CLUSTER, "redis_password": {"env": "OJ_REDIS_PASSWORD"}, "request_timeout_seconds": 2.5})
    assert config.cluster.enabled
    assert config.cluster.node_id == "node1"
    assert config.cluster.redis_url == "redis://redis.example.net:6379/0"
    assert config.cluster.request_timeout_seconds == 2.5
    assert config.recordings.directory == Path("/shared/recordings")


@pytest.mark.parametrize("url", ["redis://r:6379/0", "rediss://r.example.net:6380/2", "unix:///run/redis.sock"])
def test_every_kind_of_redis_url_is_accepted(url: str) -> None:
    assert _config({"node_id": "a", "redis_url": url}).cluster.redis_url == url


def test_a_console_without_a_cluster_block_is_one_node_on_sqlite() -> None:
    config = ConsoleConfig.model_validate({})
    assert not config.cluster.enabled
    assert config.database.url is None
    assert ConsoleConfig.model_validate({"cluster": {}}).cluster == ClusterSettings()


def test_a_cluster_node_whose_recordings_are_off_needs_no_recordings_directory() -> None:
    config = ConsoleConfig.model_validate(
        {"database": {"url": POSTGRES}, "recordings": {"enabled": False}, "cluster": CLUSTER}
    )
    assert config.cluster.enabled


def test_a_cluster_database_url_given_by_reference_is_accepted() -> None:
    config = ConsoleConfig.model_validate(
        {"database": {"url": {"env": "OJ_DB_URL"}}, "recordings": {"directory": "/shared"}, "cluster": CLUSTER}
    )
    assert config.cluster.enabled


def test_a_cluster_block_without_node_id_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"a cluster node needs 'node_id' \(unique per console node\)"):
        _config({"redis_url": "redis://redis.example.net:6379/0"})


@pytest.mark.parametrize(
    "node_id",
    ["Node1", "NODE", "node_1", "node-1", "node 1", "", "abcdefghijklm", "nöde"],
)
def test_a_bad_node_id_is_refused_naming_the_key_and_the_pattern(node_id: str) -> None:
    with pytest.raises(ValidationError) as err:
        _config({**CLUSTER, "node_id": node_id})
    text = str(err.value)
    assert "cluster.node_id" in text
    assert "String should match pattern '^[a-z0-9]{1,12}$'" in text


def test_a_node_id_of_twelve_characters_is_the_longest_accepted() -> None:
    assert _config({**CLUSTER, "node_id": "abcdefghij12"}).cluster.node_id == "abcdefghij12"


@pytest.mark.parametrize(
    "url", ["http://redis.example.net:6379", "redis.example.net:6379", "tcp://redis:6379", "REDIS://r:6379", ""]
)
def test_a_redis_url_that_is_not_one_is_refused(url: str) -> None:
    with pytest.raises(ValidationError) as err:
        _config({**CLUSTER, "redis_url": url})
    text = str(err.value)
    assert "cluster.redis_url" in text
    assert "String should match pattern '^(redis|rediss|unix)://'" in text


def test_a_node_id_without_a_redis_url_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"'node_id' and 'redis_password' need 'redis_url'"):
        _config({"node_id": "node1"})


def test_a_redis_password_without_a_redis_url_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"'node_id' and 'redis_password' need 'redis_url'"):
        _config({"redis_password": {"env": "OJ_REDIS_PASSWORD"}})


def test_a_redis_password_written_inline_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"cluster\.redis_password"):
        _config({**CLUSTER, "redis_password": "hunter2"})


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@redis.example.net:6379/0",
        "redis://openjump:hunter2@redis.example.net:6379/0",
        "rediss://openjump:hunter2@redis.example.net:6380/0",
        "unix://:hunter2@/run/redis.sock",
        "redis://redis.example.net:6379/0?password=hunter2",
        "redis://redis.example.net:6379/0?Password=hunter2",
    ],
)
def test_a_redis_url_with_a_password_is_refused_pointing_at_redis_password_without_repeating_it(
    url: str, tmp_path: Path
) -> None:
    path = tmp_path / "console.yaml"
    path.write_text(
        f"database:\n  url: {POSTGRES}\n"
        f"recordings:\n  directory: {tmp_path / 'recordings'}\n"
        f"cluster:\n  node_id: b2\n  redis_url: '{url}'\n"
    )
    with pytest.raises(ConfigError) as err:
        load_console_config(path)
    assert "cluster.redis_url: must not hold a password: give it as cluster.redis_password" in err.value.message
    assert "hunter2" not in err.value.message


def test_a_redis_url_with_a_user_name_and_no_password_is_accepted() -> None:
    url = "redis://openjump@redis.example.net:6379/0"
    config = _config({**CLUSTER, "redis_url": url, "redis_password": {"env": "OJ_REDIS_PASSWORD"}})
    assert config.cluster.redis_url == url


@pytest.mark.parametrize("database", [{}, {"url": "sqlite+aiosqlite:////var/lib/openjump/console.db"}])
def test_a_cluster_on_sqlite_is_refused(database: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=r"console nodes share one database; set database\.url to PostgreSQL"):
        _config(CLUSTER, database=database)


def test_a_cluster_without_a_shared_recordings_directory_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"cluster: set recordings\.directory to a directory every console node"):
        _config(CLUSTER, recordings={"enabled": True})


@pytest.mark.parametrize("seconds", [0.1, 0, -1, 121])
def test_a_request_timeout_outside_its_range_is_refused(seconds: float) -> None:
    with pytest.raises(ValidationError, match=r"cluster\.request_timeout_seconds"):
        _config({**CLUSTER, "request_timeout_seconds": seconds})


def test_an_unknown_key_in_the_cluster_block_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"cluster\.peers"):
        _config({**CLUSTER, "peers": ["node2"]})


def test_a_cluster_file_on_sqlite_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text("cluster:\n  node_id: node1\n  redis_url: redis://127.0.0.1:6379/0\n")
    with pytest.raises(ConfigError) as err:
        load_console_config(path)
    assert str(path) in err.value.message
    assert "set database.url to PostgreSQL" in err.value.message


def test_a_complete_cluster_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text(
        f"database:\n  url: {POSTGRES}\n"
        f"recordings:\n  directory: {tmp_path / 'recordings'}\n"
        "cluster:\n  node_id: b2\n  redis_url: redis://127.0.0.1:6379/0\n"
    )
    config = load_console_config(path)
    assert config.cluster.enabled and config.cluster.node_id == "b2"


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:////var/lib/openjump/console.db", "sqlite:///console.db"])
def test_a_cluster_database_url_given_by_reference_is_refused_when_it_is_sqlite(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(CLUSTER, database={"url": {"env": "OJ_TEST_DB_URL"}})
    monkeypatch.setenv("OJ_TEST_DB_URL", url)
    with pytest.raises(ConfigError) as err:
        _ = config.database_url
    assert err.value.message == (
        "cluster: console nodes share one database; set database.url to PostgreSQL (SQLite is one machine's): "
        "the environment variable OJ_TEST_DB_URL gives an SQLite URL"
    )
    monkeypatch.setenv("OJ_TEST_DB_URL", "")
    with pytest.raises(ConfigError, match=r"^database\.url: the environment variable OJ_TEST_DB_URL is empty$"):
        _ = config.database_url
    monkeypatch.setenv("OJ_TEST_DB_URL", POSTGRES)
    assert config.database_url == POSTGRES
