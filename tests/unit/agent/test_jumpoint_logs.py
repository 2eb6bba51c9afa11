"""The Jumpoint's log lines: plain or JSON, with its own id on every line and the session's on session lines,
priorities for journald, and nothing shaped like a token."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jumpoint.core.logs import is_journal_stream, scrub, setup_logging
from jumpoint.core.secret import Secret

TOKEN = "ojj_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_jumpoint_id_and_the_session_context() -> None:
    out = io.StringIO()
    context = setup_logging("info", "json", stream=out, context={"jumpoint_id": 4, "jumpoint": "LAN-A"})
    log = logging.getLogger("jumpoint.agent.channel")
    logging.LoggerAdapter(log, {"session_id": "s-1", "target": "web:22"}).info("connected in %.1f s", 0.25)
    log.debug("not at info")
    context.context["jumpoint"] = "LAN-B"
    log.warning("renamed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "connected in 0.2 s" and first["level"] == "info"
    assert (first["jumpoint_id"], first["jumpoint"], first["session_id"], first["target"]) == (
        "4",
        "LAN-A",
        "s-1",
        "web:22",
    )
    assert second["jumpoint"] == "LAN-B" and "session_id" not in second


def test_plain_lines_end_with_the_context() -> None:
    out = io.StringIO()
    setup_logging("info", "plain", stream=out, context={"jumpoint_id": 4})
    logging.LoggerAdapter(logging.getLogger("x"), {"session_id": "s-1"}).info("hello")
    assert out.getvalue().rstrip().endswith("INFO x: hello [session_id=s-1 jumpoint_id=4]")


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_token_or_a_secret_never_reaches_a_line(fmt: str) -> None:
    out = io.StringIO()
    setup_logging("debug", fmt, stream=out)  # type: ignore[arg-type]
    log = logging.getLogger("x")
    log.info("the console said %s and %s", TOKEN, Secret("hunter2"))
    try:
        raise ValueError(f"bad {TOKEN}")
    except ValueError:
        log.exception("failed")
    text = out.getvalue()
    assert TOKEN not in text and "hunter2" not in text
    assert "ojj_***" in text
    assert scrub("ojt_shortprefix") == "ojt_shortprefix"  # a token's displayed prefix is not a secret


def test_on_journald_each_line_starts_with_its_syslog_priority_and_plain_lines_leave_the_time_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal"
    with path.open("w") as stream:
        st = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert is_journal_stream(stream)
        setup_logging("info", "plain", stream=stream)
        logging.getLogger("x").error("broken")
        logging.getLogger("x").info("fine")
        setup_logging("info", "json", stream=stream)
        logging.getLogger("x").warning("careful")
    lines = path.read_text().splitlines()
    assert lines[:2] == ["<3>ERROR x: broken", "<6>INFO x: fine"]
    assert lines[2].startswith("<4>{") and json.loads(lines[2][3:])["message"] == "careful"
    assert not is_journal_stream(io.StringIO())


def test_a_journal_stream_variable_in_other_than_ascii_digits_is_not_the_journal(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w") as stream:
        assert not is_journal_stream(stream, {"JOURNAL_STREAM": "\u00b2:\u00b3"})
