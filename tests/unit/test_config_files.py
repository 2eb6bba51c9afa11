"""Configuration files are validated: a bad file names the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from console_web.config import ConsoleConfig, load_console_config
from credential_store.stores import CredentialStores
from jumpoint.agent.config import load_jumpoint_config
from jumpoint.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_console_config_is_valid() -> None:
    config = load_console_config(ROOT / "config" / "console.example.yaml")
    assert config.listen.port == 8443 and config.listen.tls.mode == "files"


def test_example_jumpoint_config_is_valid(tmp_path: Path) -> None:
    config = load_jumpoint_config(ROOT / "config" / "jumpoint.example.yaml")
    assert config.tunnel.heartbeat_seconds == 15
    stores = CredentialStores.from_config(config.credential_stores, state_dir=tmp_path)
    assert list(stores.stores) == ["local"]


def test_a_credential_store_with_a_bad_setting_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text("credential_stores:\n  vault:\n    type: vault\n    url: ftp://nope\n")
    config = load_jumpoint_config(path)
    with pytest.raises(ConfigError, match=r"credential_stores\.vault"):
        CredentialStores.from_config(config.credential_stores, state_dir=tmp_path)
    path.write_text("credential_stores:\n  Bad Name:\n    type: local\n")
    with pytest.raises(ConfigError, match="credential_stores"):
        load_jumpoint_config(path)


def test_unknown_key_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text("listen:\n  prot: 80\n")
    with pytest.raises(ConfigError) as err:
        load_console_config(path)
    assert str(path) in err.value.message
    assert "listen.prot: unknown key" in err.value.message


def test_wrong_type_is_refused_with_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text("listen:\n  port: eighty\n")
    with pytest.raises(ConfigError, match=r"listen\.port: Input should be a valid integer"):
        load_console_config(path)


def test_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_jumpoint_config(path)


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text("a: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_jumpoint_config(path)


def test_tls_files_mode_needs_both_paths() -> None:
    with pytest.raises(ValueError, match="needs both 'cert' and 'key'"):
        ConsoleConfig.model_validate({"listen": {"tls": {"mode": "files", "cert": "/x"}}})


def test_pinned_fingerprint_must_look_like_sha256(tmp_path: Path) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text("trust:\n  fingerprint: AB:CD\n")
    with pytest.raises(ConfigError, match=r"trust\.fingerprint"):
        load_jumpoint_config(path)


def test_secret_reference_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from console_web.config import SecretRef

    monkeypatch.setenv("OJ_TEST_SECRET", "s3")
    assert SecretRef(env="OJ_TEST_SECRET").resolve() == "s3"
    with pytest.raises(ConfigError, match="OJ_TEST_MISSING is not set"):
        SecretRef(env="OJ_TEST_MISSING").resolve()


def test_database_url_can_come_from_an_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "console.yaml"
    path.write_text("database:\n  url: {env: OJ_TEST_DB_URL}\n")
    monkeypatch.setenv("OJ_TEST_DB_URL", "sqlite+aiosqlite:///from-env.db")
    assert load_console_config(path).database_url == "sqlite+aiosqlite:///from-env.db"


def test_database_url_from_a_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text(f"database:\n  url: {{file: {tmp_path / 'nope'}}}\n")
    with pytest.raises(ConfigError, match=r"cannot read secret file .*nope"):
        _ = load_console_config(path).database_url


def test_database_reference_with_both_env_and_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text("database:\n  url: {env: A, file: /b}\n")
    with pytest.raises(ConfigError, match="exactly one of 'env' or 'file'"):
        load_console_config(path)


def test_the_builtin_jumpoints_credential_stores_are_configured_on_the_console(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text(
        "builtin_jumpoint:\n  enabled: true\n  credential_stores:\n"
        "    local: {type: local}\n"
        "    vault: {type: vault, url: 'https://vault:8200', auth: {method: token, token_env: T}}\n"
    )
    config = load_console_config(path)
    assert config.builtin_jumpoint.credential_stores is not None
    assert sorted(config.builtin_jumpoint.credential_stores) == ["local", "vault"]


async def test_a_bad_builtin_credential_store_is_refused_naming_its_key(tmp_path: Path) -> None:
    from jumpoint.allinone import BuiltinJumpoint

    with pytest.raises(ConfigError, match=r"builtin_jumpoint\.credential_stores\.vault"):
        await BuiltinJumpoint().start(
            console_url="https://127.0.0.1:1",
            token="t",
            fingerprint=None,
            state_dir=tmp_path,
            credential_stores={"vault": {"type": "vault", "url": "ftp://nope"}},
        )


@pytest.mark.parametrize(
    ("text", "line", "first"),
    [
        ("listen:\n  port: 8443\nlog_level: info\nlisten:\n  host: 0.0.0.0\n", 4, 1),
        ("listen:\n  port: 8443\n  host: 0.0.0.0\n  port: 9443\n", 4, 2),
    ],
)
def test_a_key_given_twice_is_refused_with_its_line_numbers(tmp_path: Path, text: str, line: int, first: int) -> None:
    path = tmp_path / "console.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_console_config(path)
    key = "listen" if first == 1 else "port"
    assert err.value.message == f"{path}: line {line}: the key {key!r} is given twice (first on line {first}); keep one"


def test_a_key_given_twice_in_a_jumpoint_file_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text("tunnel: {heartbeat_seconds: 15}\ntunnel: {heartbeat_seconds: 30}\n")
    with pytest.raises(ConfigError, match=r"line 2: the key 'tunnel' is given twice \(first on line 1\)"):
        load_jumpoint_config(path)


def test_a_key_from_a_yaml_merge_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text("listen:\n  <<: {host: 0.0.0.0, port: 8443}\n  port: 9443\n")
    config = load_console_config(path)
    assert (config.listen.host, config.listen.port) == ("0.0.0.0", 9443)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("database:\n  url: {evn: OJ_DB}\n", "  database.url.evn: unknown key"),
        ("database:\n  url: {env: A, file: /b}\n", "  database.url: give exactly one of 'env' or 'file'"),
        (
            "database:\n  url: 5\n",
            "  database.url: Input should be a valid string, or a mapping of keys to values",
        ),
    ],
)
def test_an_error_in_a_database_url_names_the_key_path_as_written(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "console.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_console_config(path)
    assert expected in err.value.message.splitlines()[1]
    assert "function-after" not in err.value.message and "SecretRef]" not in err.value.message
    if "{" in text:  # a mapping was given: that it is not a string is beside the point
        assert "valid string" not in err.value.message


def test_a_reconnect_minimum_above_the_maximum_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text("tunnel: {reconnect_min_seconds: 60, reconnect_max_seconds: 1}\n")
    with pytest.raises(ConfigError) as err:
        load_jumpoint_config(path)
    assert err.value.message.splitlines()[1] == (
        "  tunnel: reconnect_min_seconds (60) is more than reconnect_max_seconds (1): the minimum wait cannot be "
        "longer than the maximum"
    )
    path.write_text("tunnel: {reconnect_min_seconds: 5, reconnect_max_seconds: 5}\n")
    assert load_jumpoint_config(path).tunnel.reconnect_min_seconds == 5


def test_a_missing_ca_file_is_refused_at_load_naming_trust_ca_file(tmp_path: Path) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text(f"trust: {{ca_file: {tmp_path / 'nope.pem'}}}\n")
    with pytest.raises(ConfigError, match=r"trust\.ca_file: .*nope\.pem does not exist"):
        load_jumpoint_config(path)
    path.write_text(f"trust: {{ca_file: {tmp_path}}}\n")
    with pytest.raises(ConfigError, match=r"trust\.ca_file: .* is not a file"):
        load_jumpoint_config(path)


async def test_a_ca_file_that_holds_no_certificate_is_refused_naming_trust_ca_file(tmp_path: Path) -> None:
    from jumpoint.agent.registration import register

    (tmp_path / "ca.pem").write_text("not a certificate\n")
    path = tmp_path / "jumpoint.yaml"
    path.write_text(f"trust: {{ca_file: {tmp_path / 'ca.pem'}}}\n")
    config = load_jumpoint_config(path)
    with pytest.raises(ConfigError, match=r"^trust\.ca_file: cannot use .*ca\.pem as CA certificates \(PEM\)"):
        await register("https://127.0.0.1:1", "key", config.trust, None, hostname="h")


@pytest.mark.parametrize("port", ["\u00b2", "\u0661", "\uff19\uff14\uff17\uff11"])
def test_a_health_port_in_other_than_ascii_digits_is_refused(tmp_path: Path, port: str) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text(f"health: {{listen: '127.0.0.1:{port}'}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"health\.listen: .* is not HOST:PORT") as err:
        load_jumpoint_config(path)
    assert "invalid literal" not in err.value.message


@pytest.mark.parametrize("hostname", ["web 01", "web/01", "web\\\\01", "web\\x1b[31m", "web\\u202e", "web\\nINFO x"])
def test_a_jumpoint_hostname_with_spaces_or_control_characters_is_refused(tmp_path: Path, hostname: str) -> None:
    path = tmp_path / "jumpoint.yaml"
    path.write_text(f'hostname: "{hostname}"\n')
    with pytest.raises(ConfigError, match=r"hostname: must be a host name without spaces"):
        load_jumpoint_config(path)


@pytest.mark.parametrize(
    "url",
    [
        "https://console.example.com/",
        "https://console.example.com:443",
        "http://10.0.0.5:8443/",
        "https://[2001:db8::1]:8443/",
        "https://example.com/openjump/",
    ],
)
def test_a_public_url_with_a_scheme_and_a_host_is_accepted(tmp_path: Path, url: str) -> None:
    path = tmp_path / "console.yaml"
    path.write_text(f"listen:\n  public_url: '{url}'\n")
    assert load_console_config(path).listen.public_url == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("console.example.com", "is not an http:// or https:// URL with a host"),
        ("not a url at all", "has spaces or control characters"),
        ("ftp://console.example.com/", "is not an http:// or https:// URL with a host"),
        ("https://", "is not an http:// or https:// URL with a host"),
        ("https://console.example.com:99999/", "has a port that is not a number from 0 to 65535"),
        ("https://console.example.com:\u00b2/", "has a port that is not a number from 0 to 65535"),
        ("https://admin:pw@console.example.com/", "must not hold a user name or password"),
        ("https://console.example.com/?x=1", "must not have a query"),
        ("https://console.example.com/#top", "must not have a query ('?...') or a fragment ('#...')"),
    ],
)
def test_a_public_url_that_is_not_an_http_url_with_a_host_is_refused_naming_the_key(
    tmp_path: Path, url: str, problem: str
) -> None:
    path = tmp_path / "console.yaml"
    path.write_text(f"listen:\n  public_url: '{url}'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_console_config(path)
    assert err.value.message.splitlines()[1].startswith("  listen.public_url: ")
    assert problem in err.value.message


def test_an_empty_database_url_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "console.yaml"
    path.write_text("database:\n  url: ''\n")
    with pytest.raises(ConfigError) as err:
        load_console_config(path)
    assert err.value.message.splitlines()[1] == (
        "  database.url: is empty: give a URL, or leave database.url out for SQLite in state_dir"
    )


def test_a_database_url_reference_that_is_empty_is_refused_naming_the_variable_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "console.yaml"
    path.write_text("database:\n  url: {env: OJ_TEST_DB_URL}\n")
    monkeypatch.setenv("OJ_TEST_DB_URL", "")
    with pytest.raises(ConfigError, match=r"^database\.url: the environment variable OJ_TEST_DB_URL is empty$"):
        _ = load_console_config(path).database_url
    (tmp_path / "db-url").write_text("\n")
    path.write_text(f"database:\n  url: {{file: {tmp_path / 'db-url'}}}\n")
    with pytest.raises(ConfigError, match=r"^database\.url: the file .*db-url is empty$"):
        _ = load_console_config(path).database_url
