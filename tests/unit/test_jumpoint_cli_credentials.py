"""`jumpoint credentials add|list|remove`: the local store managed from the Jumpoint host's shell."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from credential_store.local import LocalCredentialStore
from jumpoint.agent.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "jumpoint.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n")
    return path


def run(config: Path, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", str(config), "credentials", *args])


async def test_a_password_and_a_certificate_are_added_listed_with_kinds_and_removed(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key, cert = tmp_path / "id", tmp_path / "id-cert.pub"
    key.write_text("KEY TEXT")
    cert.write_text("ssh-ed25519-cert-v01@openssh.com AAAA test\n")
    assert run(config, monkeypatch, "add", "lab/web01", "--username", "root", stdin="s3cret\n") == 0
    assert run(config, monkeypatch, "add", "lab/ops", "--private-key", str(key), "--certificate", str(cert)) == 0
    assert "stored credential local:lab/ops" in capsys.readouterr().out
    assert run(config, monkeypatch, "list") == 0
    assert capsys.readouterr().out.splitlines() == ["local:lab/ops\tssh_certificate", "local:lab/web01\tpassword"]
    stored = await LocalCredentialStore(tmp_path / "state").fetch("lab/web01", purpose="test")
    assert stored.password is not None and stored.password.reveal() == "s3cret"
    assert run(config, monkeypatch, "remove", "lab/web01") == 0
    assert run(config, monkeypatch, "remove", "lab/web01") == 2
    assert "no credential named 'lab/web01'" in capsys.readouterr().err


def test_a_certificate_without_a_key_is_refused(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, monkeypatch, "add", "x", "--certificate", str(tmp_path / "c")) == 2
    assert "--certificate goes with --private-key" in capsys.readouterr().err
