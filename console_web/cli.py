"""The ``openjump`` command: administration of the console's database, and starting the console.

Every command reads the console configuration (``--config``), opens the database it names and migrates it to
the current schema first (``migrate`` does only that). ``create-user`` and ``allinone`` may leave ``--config``
out: then they use the defaults, as the all-in-one console does (state, and the SQLite database, in
``./state``). Errors are printed to stderr (exit 2 for configuration or usage problems, such as a database that
cannot be reached; 1 for refused operations such as a duplicate name).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from console_web.config import ConsoleConfig, load_console_config
from console_web.db.database import Database
from console_web.db.models import NAME_MAX
from jumpoint.core.errors import ConfigError, JumpError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A usage problem to print and exit 2 with."""


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        text = sys.stdin.readline()
    else:
        try:
            text = Path(args.password_file).read_text()
        except OSError as exc:
            raise CliError(f"cannot read the password file {args.password_file}: {exc.strerror}") from None
    password = text.rstrip("\r\n")
    if not password:
        raise CliError("the password is empty")
    return password


async def _with_db(config: ConsoleConfig, work: Callable[[Database], Awaitable[int]]) -> int:
    db = await Database.open(config.database_url, config.database)
    try:
        await db.migrate()
        return await work(db)
    finally:
        await db.close()


async def _create_user(args: argparse.Namespace, config: ConsoleConfig) -> int:
    """Create the user; a ``--display-name`` over NAME_MAX characters is a CliError (never cut short)."""
    from console_web.db import repo

    if args.display_name is not None and len(args.display_name) > NAME_MAX:
        raise CliError(
            f"--display-name is {len(args.display_name)} characters long; the limit is {NAME_MAX} characters"
        )
    if args.config is None:
        print(
            f"(no --config: using the all-in-one defaults, state directory {config.state_dir.resolve()})",
            file=sys.stderr,
        )
    password = _read_password(args)

    async def work(db: Database) -> int:
        user_id = await repo.create_user(
            db, args.username, password, display_name=args.display_name, is_admin=args.admin
        )
        print(f"created user {args.username} (id {user_id}{', administrator' if args.admin else ''})")
        return EXIT_OK

    return await _with_db(config, work)


async def _create_token(args: argparse.Namespace, config: ConsoleConfig) -> int:
    from console_web.db import repo
    from console_web.db.api_tokens import create_api_token

    async def work(db: Database) -> int:
        user = await repo.find_user_by_name(db, args.username)
        if user is None:
            print(f"error: there is no user named {args.username!r}", file=sys.stderr)
            return EXIT_REFUSED
        created = await create_api_token(db, user.id, args.name, expires_at=None)
        print(created.token)
        print(
            f"(API token {created.id} {args.name!r} for {args.username}; it is shown only now)",
            file=sys.stderr,
        )
        return EXIT_OK

    return await _with_db(config, work)


async def _create_jumpoint(args: argparse.Namespace, config: ConsoleConfig) -> int:
    from console_web.db.repo import add_audit, create_jumpoint_in

    async def work(db: Database) -> int:
        async with db.session() as session:
            jumpoint = await create_jumpoint_in(session, args.name, args.comments or "")
            add_audit(session, action="jumpoint.created", detail={"jumpoint_id": jumpoint.id, "name": args.name})
            jumpoint_id = jumpoint.id
        print(f"created Jumpoint {args.name!r} (id {jumpoint_id})")
        print(f"next: openjump registration-key --config {args.config} --jumpoint {args.name!r}")
        return EXIT_OK

    return await _with_db(config, work)


async def _registration_key(args: argparse.Namespace, config: ConsoleConfig) -> int:
    from sqlalchemy import select

    from console_web.api.jumpoints import console_url_from_config, register_command
    from console_web.db.models import Jumpoint
    from console_web.db.registration import create_registration_key

    minutes = args.minutes or config.security.registration_key_minutes

    async def work(db: Database) -> int:
        async with db.session() as session:
            jumpoint_id = await session.scalar(select(Jumpoint.id).where(Jumpoint.name == args.jumpoint))
        if jumpoint_id is None:
            print(f"error: there is no Jumpoint named {args.jumpoint!r}", file=sys.stderr)
            return EXIT_REFUSED
        issued = await create_registration_key(db, jumpoint_id, minutes=minutes, created_by=None)
        print(issued.key)
        print(
            f"(one-time key for Jumpoint {issued.jumpoint_name!r}, valid until {issued.expires_at.isoformat()})",
            file=sys.stderr,
        )
        print("On the Jumpoint host, run:", file=sys.stderr)
        print("  " + register_command(console_url_from_config(config), issued.key), file=sys.stderr)
        return EXIT_OK

    return await _with_db(config, work)


async def _migrate(args: argparse.Namespace, config: ConsoleConfig) -> int:
    db = await Database.open(config.database_url, config.database)
    try:
        before = await db.current_revision()
        await db.migrate()
        after = await db.current_revision()
    finally:
        await db.close()
    where = db.engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"the database schema is up to date (revision {after}): {where}")
    else:
        print(f"migrated the database from revision {before or '(empty)'} to {after}: {where}")
    return EXIT_OK


def _serve(config_path: Path | None, all_in_one: bool) -> int:
    from console_web import server

    return int(server.serve(config_path, all_in_one))


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes") from None
    if not 1 <= value <= 7 * 24 * 60:
        raise argparse.ArgumentTypeError("must be 1 to 10080 minutes (one week)")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``openjump``."""
    parser = argparse.ArgumentParser(prog="openjump", description="OpenJump console administration")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument("--config", required=required, type=Path, help="the console configuration file (YAML)")

    p = sub.add_parser("create-user", help="create a user (non-interactive)")
    p.add_argument(
        "--config",
        type=Path,
        help="the console configuration file (YAML); default: the all-in-one defaults (state in ./state), "
        "as `openjump allinone` without --config",
    )
    p.add_argument("--username", required=True)
    p.add_argument("--display-name", help=f"the name shown to others (at most {NAME_MAX} characters)")
    p.add_argument("--admin", action="store_true", help="make the user an administrator")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    source.add_argument("--password-file", help="read the password from this file")

    p = sub.add_parser("create-token", help="create an API token for a user (printed once)")
    with_config(p)
    p.add_argument("--username", required=True)
    p.add_argument("--name", required=True, help="what the token is for")

    p = sub.add_parser("create-jumpoint", help="create a Jumpoint")
    with_config(p)
    p.add_argument("--name", required=True)
    p.add_argument("--comments")

    p = sub.add_parser(
        "registration-key",
        help="create a one-time key that registers one host as a member of a Jumpoint (another member: a cluster)",
    )
    with_config(p)
    p.add_argument("--jumpoint", required=True, help="the Jumpoint's name")
    p.add_argument("--minutes", type=_minutes, help="validity (default: security.registration_key_minutes)")

    p = sub.add_parser("migrate", help="create or upgrade the database schema (the console also does it at start)")
    with_config(p)

    p = sub.add_parser("serve", help="run the console")
    with_config(p)

    p = sub.add_parser("allinone", help="run the console with its built-in Jumpoint")
    with_config(p, required=False)
    return parser


_ASYNC_COMMANDS = {
    "create-user": _create_user,
    "create-token": _create_token,
    "create-jumpoint": _create_jumpoint,
    "registration-key": _registration_key,
    "migrate": _migrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``openjump``; returns the exit status (0 ok, 1 refused, 2 configuration or usage error)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            return _serve(args.config, all_in_one=False)
        if args.command == "allinone":
            return _serve(args.config, all_in_one=True)
        config = load_console_config(args.config)
        return asyncio.run(_ASYNC_COMMANDS[args.command](args, config))
    except (ConfigError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except JumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
