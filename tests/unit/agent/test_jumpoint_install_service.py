"""`jumpoint install-service`: the unit filled in for this installation, written only over itself or with
--force, and the next steps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jumpoint.agent import unit_file
from jumpoint.agent.cli import main
from jumpoint.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_the_unit_in_the_repository_is_the_one_install_service_writes_for_the_defaults() -> None:
    assert (ROOT / "config" / "openjump-jumpoint.service").read_text() == unit_file.render_unit()


def test_the_unit_is_a_hardened_notify_service_with_a_watchdog() -> None:
    lines = unit_file.render_unit().splitlines()
    for line in (
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=30",
        "ExecStart=/usr/local/bin/jumpoint --config /etc/openjump/jumpoint.yaml run",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "User=openjump-jumpoint",
        "StateDirectory=openjump-jumpoint",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestartPreventExitStatus=2",
    ):
        assert line in lines


def test_command_arguments_are_quoted_and_escaped_for_systemd() -> None:
    assert unit_file.quote("/opt/open jump/bin/jumpoint") == '"/opt/open jump/bin/jumpoint"'
    assert unit_file.quote("/etc/50%/$HOME.yaml") == "/etc/50%%/$$HOME.yaml"
    options = unit_file.UnitOptions(command=("/opt/py thon", "-m", "jumpoint.agent.cli"), drain_seconds=300)
    text = unit_file.render_unit(options)
    assert 'ExecStart="/opt/py thon" -m jumpoint.agent.cli --config /etc/openjump/jumpoint.yaml run' in text
    assert "TimeoutStopSec=330" in text


def test_the_configuration_fills_in_the_drain_time_and_a_state_directory_elsewhere_is_made_writable(
    tmp_path: Path,
) -> None:
    config = tmp_path / "jumpoint.yaml"
    config.write_text("state_dir: /srv/jumpoint\nshutdown: {drain_seconds: 100}\n")
    planned = unit_file.plan(config, "svc", command=("/usr/bin/jumpoint",))
    assert "ReadWritePaths=/srv/jumpoint" in planned.text.splitlines()
    assert "TimeoutStopSec=130" in planned.text and "User=svc" in planned.text
    assert any("ReadWritePaths" in w for w in planned.warnings)


def test_a_relative_state_directory_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "jumpoint.yaml"
    config.write_text("state_dir: ./state\n")
    with pytest.raises(ConfigError, match="relative; a service needs an absolute one"):
        unit_file.plan(config, "svc")


def test_a_command_under_a_home_directory_is_warned_about(tmp_path: Path) -> None:
    planned = unit_file.plan(tmp_path / "missing.yaml", "svc", command=("/home/ops/.local/bin/jumpoint",))
    assert any("ProtectHome=yes hides" in w for w in planned.warnings)
    assert any("does not exist yet" in w for w in planned.warnings)


def test_dry_run_prints_the_unit_with_this_installations_command_and_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "jumpoint.yaml"
    config.write_text("state_dir: /var/lib/openjump-jumpoint\n")
    assert main(["install-service", "--config", str(config), "--user", "jp", "--dry-run"]) == 0
    out = capsys.readouterr().out
    command = unit_file.find_command()
    assert command[0].startswith(str(Path(sys.executable).parent)) or len(command) > 1
    assert f"ExecStart={' '.join(command)} --config {config} run" in out.splitlines()
    assert "User=jp" in out.splitlines()
    assert not (tmp_path / "units").exists()


def test_install_writes_the_unit_prints_the_next_steps_and_refuses_to_replace_a_different_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "jumpoint.yaml"
    config.write_text("state_dir: /var/lib/openjump-jumpoint\n")
    units = tmp_path / "units"
    args = ["--config", str(config), "install-service", "--unit-dir", str(units), "--user", "nobody-here-jp"]
    assert main(args) == 0
    out = capsys.readouterr().out
    written = units / "openjump-jumpoint.service"
    assert f"Wrote {written}" in out
    assert oct(written.stat().st_mode & 0o777) == "0o644"
    for step in (
        "useradd --system --user-group --home-dir /var/lib/openjump-jumpoint",
        "register --console",
        "systemctl daemon-reload",
        "systemctl enable --now openjump-jumpoint",
        "journalctl -u openjump-jumpoint",
    ):
        assert step in out
    assert main(args) == 0
    assert f"Unchanged: {written}" in capsys.readouterr().out
    written.write_text(written.read_text() + "# a local change\n")
    assert main(args) == 2
    assert "exists and differs" in capsys.readouterr().err
    assert written.read_text().endswith("# a local change\n")
    assert main([*args, "--force"]) == 0
    assert written.read_text() == unit_file.render_unit(unit_file.plan(config, "nobody-here-jp").options)
