"""The ``jumpoint`` command: register with a console, run the service, install it in systemd, show its
status, manage the host-key cache and the local credential store.

Exit codes: 0 success; 2 an error (printed as ``error: ...``); ``status`` also returns 1 when the service runs
but is not connected (or is shutting down) and 3 when it does not run.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from credential_store.local import LocalCredentialStore
from credential_store.local import from_config as local_from_config
from jumpoint.agent import unit_file
from jumpoint.agent.config import JumpointConfig, load_jumpoint_config
from jumpoint.agent.daemon import JumpointDaemon, start_logging
from jumpoint.agent.registration import load_registration, register, save_registration
from jumpoint.agent.service import host_key_store
from jumpoint.agent.state_file import ago, read_state
from jumpoint.core import event_loop, malloc_tuning
from jumpoint.core.errors import BadRequest, ConfigError, JumpError
from jumpoint.core.logs import setup_logging
from jumpoint.core.secret import Secret

log = logging.getLogger("jumpoint.agent")
STATUS_NOT_CONNECTED = 1
STATUS_NOT_RUNNING = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jumpoint", description="The OpenJump Jumpoint agent.")
    parser.add_argument("--config", type=Path, help="YAML configuration (see config/jumpoint.example.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register", help="register with a console using a one-time key")
    reg.add_argument("--console", required=True, help="the console URL, e.g. https://console.example.com:8443")
    reg.add_argument("--key", help="the one-time registration key (or set it on standard input)")
    reg.add_argument("--fingerprint", help="pin the console certificate's SHA-256 fingerprint (AB:CD:...)")
    sub.add_parser(
        "run",
        help="connect to the console and serve Jumps until stopped (SIGTERM drains, SIGHUP reloads the config)",
    )
    status = sub.add_parser(
        "status",
        help="show the registration, whether the service runs and is connected (to which console, since when), "
        "its sessions and the host-key cache; exit 0 connected, 1 running but not connected, 3 not running",
    )
    status.add_argument("--json", action="store_true", help="print one JSON object instead")
    inst = sub.add_parser(
        "install-service",
        help="write the systemd unit for this installation and print the next steps",
    )
    inst.add_argument(
        "--config",
        dest="unit_config",
        type=Path,
        help=f"the configuration the service runs with (default: the global --config, else {unit_file.DEFAULT_CONFIG})",
    )
    inst.add_argument("--user", default=unit_file.DEFAULT_USER, help="the dedicated user (default: %(default)s)")
    inst.add_argument(
        "--unit-dir", type=Path, default=unit_file.DEFAULT_UNIT_DIR, help="where to write it (default: %(default)s)"
    )
    inst.add_argument("--dry-run", action="store_true", help="print the unit instead of writing it")
    inst.add_argument("--force", action="store_true", help="replace an existing unit that differs")
    keys = sub.add_parser(
        "hostkeys", help="list or remove this host's cached host keys (a copy of those the console holds)"
    )
    keys_sub = keys.add_subparsers(dest="hostkeys_command", required=True)
    keys_sub.add_parser("list")
    rm = keys_sub.add_parser("remove")
    rm.add_argument("host")
    rm.add_argument("port", type=int)
    rm.add_argument("--fingerprint")
    creds = sub.add_parser("credentials", help="manage the local credential store")
    creds_sub = creds.add_subparsers(dest="credentials_command", required=True)
    creds_sub.add_parser("list")
    add = creds_sub.add_parser(
        "add",
        help="add a credential: a password, or a private key (with --private-key); the password or the key's "
        "passphrase is read from standard input (asked for on a terminal)",
    )
    add.add_argument("name", help="e.g. linux/web01-root; '/' groups names into folders for Jump Item scopes")
    add.add_argument("--username", help="the login name (else the Jump Item's)")
    add.add_argument("--domain", help="the Windows domain (RDP)")
    add.add_argument("--private-key", type=Path, help="a private key file instead of a password")
    add.add_argument("--certificate", type=Path, help="an OpenSSH certificate file for the private key")
    add.add_argument("--replace", action="store_true", help="replace a credential of the same name")
    crm = creds_sub.add_parser("remove")
    crm.add_argument("name")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``jumpoint`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "install-service":
            return _install_service(args)
        config = load_jumpoint_config(args.config)
        setup_logging(config.logging.level, config.logging.format)
        if args.command == "register":
            return _register(config, args)
        if args.command == "run":
            return _run(config, args.config)
        if args.command == "status":
            return _status(config, as_json=args.json)
        if args.command == "hostkeys":
            return _hostkeys(config, args)
        return _credentials(config, args)
    except JumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _register(config: JumpointConfig, args: argparse.Namespace) -> int:
    key = args.key or sys.stdin.readline().strip()
    hostname = config.host_name()
    reg = asyncio.run(register(args.console, key, config.trust, args.fingerprint, hostname=hostname))
    path = save_registration(config.state_dir, reg)
    print(f"Registered {hostname!r} as a member of Jumpoint {reg.name!r} (id {reg.jumpoint_id}); saved to {path}.")
    print("Next: run `jumpoint run` (or start the systemd service) to connect.")
    return 0


def _run(config: JumpointConfig, config_path: Path | None) -> int:
    reg = load_registration(config.state_dir)
    log_context = start_logging(config, reg)
    where = config_path or "the default configuration"

    async def run() -> None:
        try:
            daemon = JumpointDaemon(config, reg, config_path=config_path, log_context=log_context)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
        log.info("Jumpoint %r (id %d) connecting to %s", reg.name, reg.jumpoint_id, daemon.client.settings.console_url)
        await daemon.run()

    malloc_tuning.keep_freed_memory()
    event_loop.run(run())
    return 0


def _status(config: JumpointConfig, *, as_json: bool = False) -> int:
    """Print what the registration, the published state file and the host-key cache say; the exit code says
    whether the service is connected (0), running without a tunnel or shutting down (1), or not running (3)."""
    reg = load_registration(config.state_dir)
    keys = host_key_store(config.state_dir).list()
    published = read_state(config.state_dir)
    data: dict[str, Any] = published.data if published is not None else {}
    running = published is not None and published.running
    connected = running and data.get("state") == "connected"
    code = 0 if connected else STATUS_NOT_CONNECTED if running else STATUS_NOT_RUNNING
    sessions: list[dict[str, Any]] = data.get("sessions", []) if running else []
    if as_json:
        body = {
            "jumpoint_id": reg.jumpoint_id,
            "name": reg.name,
            "registered_with": reg.console_url,
            "running": running,
            "connected": connected,
            "service": data or None,
            "host_keys": len(keys),
        }
        print(json.dumps(body, indent=1))
        return code
    print(f"Jumpoint {reg.name!r} (id {reg.jumpoint_id}) registered with {reg.console_url}")
    console = data.get("console_url") or config.console_url or reg.console_url
    if published is None:
        print("Service: not running (it never ran with this state directory)")
    elif not running:
        if data.get("state") == "stopped":
            print(f"Service: not running (stopped {ago(data.get('updated_at'))})")
        else:
            print(
                f"Service: not running (process {data.get('pid')} ended without stopping cleanly; "
                f"last update {ago(data.get('updated_at'))})"
            )
    elif data.get("state") == "connected":
        print(f"Service: running (pid {data.get('pid')}), connected to {console} since {ago(data.get('since'))}")
    elif data.get("state") == "draining":
        print(f"Service: running (pid {data.get('pid')}), shutting down: refusing new Jumps, draining sessions")
    else:
        error = f"; last error: {data['last_error']}" if data.get("last_error") else ""
        print(
            f"Service: running (pid {data.get('pid')}), NOT connected to {console} since "
            f"{ago(data.get('since'))} ({data.get('reconnects', 0)} reconnects{error})"
        )
    by_protocol = Counter(str(s.get("protocol")) for s in sessions)
    summary = ", ".join(f"{p} {n}" for p, n in sorted(by_protocol.items()))
    print(f"Active sessions: {len(sessions)}" + (f" ({summary})" if summary else ""))
    for s in sessions:
        print(f"  {s.get('session_id')}\t{s.get('protocol')}\t{s.get('state')}\t{s.get('target')}\t{s.get('since')}")
    print(f"Cached host keys: {len(keys)}")
    if running and data.get("health"):
        print(f"Health: http://{data['health']}/readyz (and /healthz, /metrics)")
    return code


def _install_service(args: argparse.Namespace) -> int:
    """Write (or with --dry-run print) the unit; print warnings and the next steps."""
    config_path = args.unit_config or args.config or unit_file.DEFAULT_CONFIG
    planned = unit_file.plan(config_path, args.user)
    for warning in planned.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.dry_run:
        print(planned.text, end="")
        return 0
    path, changed = unit_file.install_unit(planned.text, args.unit_dir, force=args.force)
    print(f"{'Wrote' if changed else 'Unchanged:'} {path}")
    print("Next steps:")
    for n, step in enumerate(planned.steps, 1):
        print(f"  {n}. {step}")
    return 0


def _hostkeys(config: JumpointConfig, args: argparse.Namespace) -> int:
    store = host_key_store(config.state_dir)
    if args.hostkeys_command == "list":
        for k in store.list():
            print(f"{k.host}:{k.port}\t{k.key.algorithm}\t{k.key.fingerprint}\t{k.added_at}")
        return 0
    removed = store.remove(args.host, args.port, args.fingerprint)
    print(f"removed {removed} key(s) of {args.host}:{args.port}")
    if removed:
        print(
            "note: only this host's copy changed; the console holds the keys the Jumpoint's members trust and gives "
            "them back when the tunnel reconnects: remove keys on the console's Admin page to remove them everywhere",
            file=sys.stderr,
        )
    return 0 if removed else 1


def _credentials(config: JumpointConfig, args: argparse.Namespace) -> int:
    store = _local_store(config)
    if args.credentials_command == "list":
        for name, kind in store.kinds().items():
            print(f"{store.name}:{name}\t{kind}")
        return 0
    if args.credentials_command == "remove":
        store.remove(args.name)
        print(f"removed credential {args.name!r}")
        return 0
    if args.certificate is not None and args.private_key is None:
        raise BadRequest("--certificate goes with --private-key")
    if args.private_key is not None:
        passphrase = _read_secret("Passphrase (empty for none): ")
        store.add(
            args.name,
            "ssh_certificate" if args.certificate is not None else "private_key",
            args.username,
            private_key=Secret(args.private_key.read_text()),
            passphrase=passphrase or None,
            certificate=args.certificate.read_text() if args.certificate is not None else None,
            domain=args.domain,
            replace=args.replace,
        )
    else:
        password = _read_secret("Password: ")
        store.add(args.name, "password", args.username, password=password, domain=args.domain, replace=args.replace)
    print(f"stored credential {store.name}:{args.name}")
    return 0


def _local_store(config: JumpointConfig) -> LocalCredentialStore:
    """The configured store of type ``local`` (the CLI manages only that one)."""
    for name, block in config.credential_stores.items():
        if block.get("type") == "local":
            settings = {k: v for k, v in block.items() if k != "type"}
            return local_from_config(name, settings, state_dir=config.state_dir)
    raise ConfigError("this Jumpoint's configuration has no credential store of type 'local'")


def _read_secret(prompt: str) -> Secret:
    text = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    return Secret(text)


if __name__ == "__main__":
    sys.exit(main())
