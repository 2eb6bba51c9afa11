"""The ``jumpoint`` command: register with a console, run the service, manage the host-key cache."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import signal
import sys
from pathlib import Path

from credential_store.local import LocalCredentialStore
from credential_store.local import from_config as local_from_config
from jumpoint.agent.config import JumpointConfig, load_jumpoint_config
from jumpoint.agent.registration import load_registration, register, save_registration, ssl_for
from jumpoint.agent.service import build_tunnel_client, host_key_store
from jumpoint.core.errors import BadRequest, ConfigError, JumpError
from jumpoint.core.logs import setup_logging
from jumpoint.core.secret import Secret


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jumpoint", description="The OpenJump Jumpoint agent.")
    parser.add_argument("--config", type=Path, help="YAML configuration (see config/jumpoint.example.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register", help="register with a console using a one-time key")
    reg.add_argument("--console", required=True, help="the console URL, e.g. https://console.example.com:8443")
    reg.add_argument("--key", help="the one-time registration key (or set it on standard input)")
    reg.add_argument("--fingerprint", help="pin the console certificate's SHA-256 fingerprint (AB:CD:...)")
    sub.add_parser("run", help="connect to the console and serve Jumps until stopped")
    sub.add_parser("status", help="show the registration and the host-key cache")
    keys = sub.add_parser("hostkeys", help="list or remove cached host keys")
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
        config = load_jumpoint_config(args.config)
        setup_logging(config.log_level, config.log_format)
        if args.command == "register":
            return _register(config, args)
        if args.command == "run":
            return _run(config, args.config)
        if args.command == "status":
            return _status(config)
        if args.command == "hostkeys":
            return _hostkeys(config, args)
        return _credentials(config, args)
    except JumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _register(config: JumpointConfig, args: argparse.Namespace) -> int:
    key = args.key or sys.stdin.readline().strip()
    reg = asyncio.run(register(args.console, key, config.trust, args.fingerprint))
    path = save_registration(config.state_dir, reg)
    print(f"Registered as Jumpoint {reg.name!r} (id {reg.jumpoint_id}); saved to {path}.")
    print("Next: run `jumpoint run` (or start the systemd service) to connect.")
    return 0


def _run(config: JumpointConfig, config_path: Path | None) -> int:
    reg = load_registration(config.state_dir)
    try:
        client = build_tunnel_client(
            state_dir=config.state_dir,
            console_url=config.console_url or reg.console_url,
            token=reg.token,
            ssl_param=ssl_for(config.trust, reg.fingerprint),
            heartbeat_seconds=config.tunnel.heartbeat_seconds,
            reconnect_min_seconds=config.tunnel.reconnect_min_seconds,
            reconnect_max_seconds=config.tunnel.reconnect_max_seconds,
            max_sessions=config.limits.max_sessions,
            prompt_timeout_seconds=config.limits.prompt_timeout_seconds,
            credential_stores=config.credential_stores,
        )
    except ConfigError as exc:
        where = config_path or "the default configuration"
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(client.stop()))
        await client.run()

    print(f"Jumpoint {reg.name!r} connecting to {config.console_url or reg.console_url}", flush=True)
    asyncio.run(run())
    return 0


def _status(config: JumpointConfig) -> int:
    reg = load_registration(config.state_dir)
    keys = host_key_store(config.state_dir).list()
    print(f"Jumpoint {reg.name!r} (id {reg.jumpoint_id}) registered with {reg.console_url}")
    print(f"Cached host keys: {len(keys)}")
    return 0


def _hostkeys(config: JumpointConfig, args: argparse.Namespace) -> int:
    store = host_key_store(config.state_dir)
    if args.hostkeys_command == "list":
        for k in store.list():
            print(f"{k.host}:{k.port}\t{k.key.algorithm}\t{k.key.fingerprint}\t{k.added_at}")
        return 0
    removed = store.remove(args.host, args.port, args.fingerprint)
    print(f"removed {removed} key(s) of {args.host}:{args.port}")
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
