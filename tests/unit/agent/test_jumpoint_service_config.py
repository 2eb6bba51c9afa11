"""The service settings of the Jumpoint's configuration (logging, shutdown, health): validated, unknown keys
refused, the older top-level logging keys still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from jumpoint.agent.config import JumpointConfig, load_jumpoint_config, parse_listen
from jumpoint.core.errors import ConfigError


def _load(tmp_path: Path, text: str) -> JumpointConfig:
    path = tmp_path / "jumpoint.yaml"
    path.write_text(text)
    return load_jumpoint_config(path)


def test_the_defaults_log_plain_at_info_drain_for_30_seconds_and_keep_the_health_port_off(tmp_path: Path) -> None:
    config = _load(tmp_path, "")
    assert (config.logging.level, config.logging.format) == ("info", "plain")
    assert config.shutdown.drain_seconds == 30
    assert config.health.listen is None and config.health.address() is None


def test_service_settings_are_read(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "logging: {level: debug, format: json}\nshutdown: {drain_seconds: 0}\nhealth: {listen: '[::1]:9471'}\n",
    )
    assert (config.logging.level, config.logging.format) == ("debug", "json")
    assert config.shutdown.drain_seconds == 0
    assert config.health.address() == ("::1", 9471)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("logging: {format: xml}\n", "logging.format"),
        ("logging: {level: loud}\n", "logging.level"),
        ("logging: {colour: true}\n", "logging.colour: unknown key"),
        ("shutdown: {drain_seconds: -1}\n", "shutdown.drain_seconds"),
        ("shutdown: {drain_seconds: 7200}\n", "shutdown.drain_seconds"),
        ("shutdown: {grace: 3}\n", "shutdown.grace: unknown key"),
        ("health: {listen: 9471}\n", "health.listen"),
        ("health: {port: 9471}\n", "health.port: unknown key"),
        ("metrics: {}\n", "metrics: unknown key"),
    ],
)
def test_a_bad_or_unknown_service_setting_is_refused_naming_its_key(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert where in err.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:9471", ("127.0.0.1", 9471)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:80", ("localhost", 80)),
        ("[::]:9471", ("::", 9471)),
    ],
)
def test_a_listen_address_is_an_ip_or_localhost_and_a_port(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["9471", "127.0.0.1", "127.0.0.1:70000", "example.com:80", "::1:80", "[1.2.3.4]:80"])
def test_a_malformed_listen_address_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT|IP address"):
        parse_listen(value)


def test_the_older_top_level_log_keys_are_read_as_the_logging_section(tmp_path: Path) -> None:
    config = _load(tmp_path, "log_level: warning\nlog_format: json\n")
    assert (config.logging.level, config.logging.format) == ("warning", "json")
    config = _load(tmp_path, "log_level: debug\nlogging: {format: json}\n")
    assert (config.logging.level, config.logging.format) == ("debug", "json")


def test_one_setting_given_under_both_spellings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"log_level and logging\.level are the same setting"):
        _load(tmp_path, "log_level: debug\nlogging: {level: info}\n")
