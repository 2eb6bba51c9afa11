"""The ``openjump`` administration commands, run as an operator would."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from console_web.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "console.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n")
    return path


def test_create_user_token_jumpoint_and_registration_key(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    assert main(["create-user", "--config", str(config), "--username", "ops", "--admin", "--password-stdin"]) == 0
    assert "created user ops" in capsys.readouterr().out
    assert main(["create-token", "--config", str(config), "--username", "ops", "--name", "ci"]) == 0
    assert capsys.readouterr().out.startswith("ojt_")
    assert main(["create-jumpoint", "--config", str(config), "--name", "LAN"]) == 0
    capsys.readouterr()
    assert main(["registration-key", "--config", str(config), "--jumpoint", "LAN", "--minutes", "5"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("ojr_")
    assert "jumpoint register --console https://127.0.0.1:8443 --key ojr_" in out.err


def test_duplicate_user_is_refused_with_a_clear_error(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("a-good-password\n")
    args = ["create-user", "--config", str(config), "--username", "ops", "--password-file", str(secret)]
    assert main(args) == 0
    assert main(args) == 1
    assert "a user named 'ops' already exists" in capsys.readouterr().err


def test_bad_config_file_exits_2_with_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("colour: red\n")
    assert main(["create-jumpoint", "--config", str(bad), "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert "colour: unknown key" in err


def test_unknown_jumpoint_for_a_registration_key_is_refused(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registration-key", "--config", str(config), "--jumpoint", "nope"]) == 1
    assert "there is no Jumpoint named 'nope'" in capsys.readouterr().err


def test_create_user_without_config_uses_the_all_in_one_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    assert main(["create-user", "--username", "bob", "--password-stdin"]) == 0
    out = capsys.readouterr()
    assert "created user bob" in out.out
    assert f"no --config: using the all-in-one defaults, state directory {tmp_path / 'state'}" in out.err
    assert (tmp_path / "state" / "console.db").is_file()
    # the same database `openjump allinone` (no --config) opens: the name is taken there now
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    assert main(["create-user", "--username", "bob", "--password-stdin"]) == 1
    assert "a user named 'bob' already exists" in capsys.readouterr().err


def test_a_display_name_over_128_characters_is_refused_not_cut(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    args = ["create-user", "--config", str(config), "--username", "bob", "--password-stdin"]
    assert main([*args, "--display-name", "x" * 300]) == 2
    out = capsys.readouterr()
    assert out.err.strip() == "error: --display-name is 300 characters long; the limit is 128 characters"
    assert "created user" not in out.out
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    assert main([*args, "--display-name", "B" * 128]) == 0
    assert "created user bob" in capsys.readouterr().out
