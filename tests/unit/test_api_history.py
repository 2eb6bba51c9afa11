"""Session history, reports, recording files, transcript search and retention through the REST API, as the people
who were in a session (and administrators, and everybody else) see them."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from sqlalchemy import select

from console_web.appkeys import CONFIG_KEY, DB_KEY
from console_web.config import ConsoleConfig, RecordingSettings
from console_web.db.models import AuditEvent, SessionParticipant, SessionRecord, TimelineEntry
from console_web.recording_retention import setup_retention, sweep_once

Console = Any
T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
CAST_HEADER = {"version": 2, "width": 80, "height": 24, "timestamp": int(T0.timestamp())}


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


@dataclass
class Seat:
    user_id: int | None
    name: str
    mode: str = "peer"
    external: bool = False
    joined: timedelta = timedelta(seconds=0)
    left: timedelta | None = None
    left_reason: str | None = None


@dataclass
class Past:
    """A session as the hub would have left it in the database."""

    id: str
    owner: int
    owner_name: str
    item_name: str = "web-01"
    target: str = "root@web-01.lan:22"
    started: datetime = T0
    length: timedelta | None = timedelta(minutes=5)
    recorded: bool = True
    seats: list[Seat] = field(default_factory=list)
    timeline: list[tuple[str, str, str]] = field(default_factory=list)


async def store(console: Console, past: Past) -> None:
    async with console.db.session() as session:
        session.add(
            SessionRecord(
                id=past.id,
                item_id=1,
                item_name=past.item_name,
                user_id=past.owner,
                jumpoint_id=1,
                protocol="ssh",
                target=past.target,
                started_at=past.started,
                ended_at=past.started + past.length if past.length is not None else None,
                end_reason="ended by the owner" if past.length is not None else None,
                recorded=past.recorded,
            )
        )
        seats = [Seat(past.owner, past.owner_name, "owner"), *past.seats]
        for n, seat in enumerate(seats):
            session.add(
                SessionParticipant(
                    session_id=past.id,
                    participant_id=f"p{n}",
                    user_id=seat.user_id,
                    display_name=seat.name,
                    external=seat.external,
                    mode=seat.mode,
                    joined_at=past.started + seat.joined,
                    left_at=past.started + seat.left if seat.left is not None else None,
                    left_reason=seat.left_reason,
                )
            )
        for seq, (kind, author, text) in enumerate(past.timeline, start=1):
            session.add(
                TimelineEntry(
                    session_id=past.id,
                    seq=seq,
                    at=past.started + timedelta(seconds=seq),
                    kind=kind,
                    author_user_id=None,
                    author_name=author,
                    text=text,
                )
            )


def recordings(tmp_path: Path) -> Path:
    directory = ConsoleConfig(state_dir=tmp_path).recordings_dir
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def write_cast(tmp_path: Path, session_id: str, events: list[tuple[float, str]], *, tail: bytes = b"") -> Path:
    lines = [json.dumps(CAST_HEADER)] + [json.dumps([t, "o", text]) for t, text in events]
    path = recordings(tmp_path) / f"{session_id}.cast"
    path.write_bytes(("\n".join(lines) + "\n").encode() + tail)
    return path


def cast_events(text: str) -> list[list[Any]]:
    lines = text.splitlines()
    assert json.loads(lines[0])["version"] == 2
    return [json.loads(line) for line in lines[1:]]


async def get_json(console: Console, path: str, status: int = 200) -> Any:
    resp = await console.client.get("/api/v1" + path)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def accesses(console: Console) -> list[tuple[str | None, int | None, Any]]:
    async with console.db.session() as session:
        events = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "recording.accessed").order_by(AuditEvent.id)
            )
        ).all()
    return [(e.session_id, e.actor_user_id, e.detail.get("file")) for e in events]


@pytest.fixture
async def three(console: Console) -> Console:
    """alice owns 'alpha' (bob sat in), bob owns 'bravo' (alone), admin owns 'charlie' (alice observed)."""
    await store(
        console,
        Past(
            "alpha",
            console.alice_id,
            "Alice",
            item_name="Payroll DB",
            target="dba@db-01.lan:22",
            started=T0,
            seats=[Seat(console.bob_id, "Bob", "peer", joined=timedelta(seconds=30), left=timedelta(minutes=2))],
        ),
    )
    await store(console, Past("bravo", console.bob_id, "Bob", started=T0 + timedelta(hours=1)))
    await store(
        console,
        Past(
            "charlie",
            console.admin_id,
            "Admin",
            item_name="Mail relay",
            target="mail.lan:2222",
            started=T0 + timedelta(hours=2),
            seats=[Seat(console.alice_id, "Alice", "observer")],
        ),
    )
    return console


# ---- the list ---------------------------------------------------------------------------------------------------


async def test_a_user_sees_the_sessions_they_owned_or_joined_newest_first(three: Console) -> None:
    await three.login_as("alice")
    body = await get_json(three, "/session-history")
    assert [s["id"] for s in body["items"]] == ["charlie", "alpha"]
    alpha = body["items"][1]
    assert alpha["item_name"] == "Payroll DB"
    assert alpha["owner"] == {"id": three.alice_id, "name": "alice"}
    assert alpha["duration_seconds"] == 300
    assert (alpha["live"], alpha["recorded"]) == (False, True)
    assert body["next_before"] is None


async def test_an_admin_sees_every_session(three: Console) -> None:
    await three.login_as("admin")
    body = await get_json(three, "/session-history")
    assert [s["id"] for s in body["items"]] == ["charlie", "bravo", "alpha"]


async def test_the_list_filters_by_text_user_and_start_time(three: Console) -> None:
    await three.login_as("admin")
    by_text = await get_json(three, "/session-history?q=DB-01")
    assert [s["id"] for s in by_text["items"]] == ["alpha"]
    by_name = await get_json(three, "/session-history?q=relay")
    assert [s["id"] for s in by_name["items"]] == ["charlie"]
    by_bob = await get_json(three, f"/session-history?user_id={three.bob_id}")
    assert [s["id"] for s in by_bob["items"]] == ["bravo", "alpha"]
    window = await get_json(three, "/session-history?since=2026-11-21T10:30:00Z&until=2026-11-21T12:00:00Z")
    assert [s["id"] for s in window["items"]] == ["bravo"]


async def test_the_text_filter_ignores_case_in_every_script(console: Console) -> None:
    await store(console, Past("arzt", console.alice_id, "Alice", item_name="Ärzte-Server", target="root@ÖBB.example"))
    await console.login_as("admin")
    for q in ("ärzte", "ÄRZTE", "öbb", "Öbb"):
        body = await get_json(console, f"/session-history?q={quote(q)}")
        assert [s["id"] for s in body["items"]] == ["arzt"], q


async def test_older_pages_follow_next_before_even_between_sessions_started_together(console: Console) -> None:
    for name in ("s1", "s2", "s3", "s4", "s5"):
        await store(console, Past(name, console.alice_id, "Alice", started=T0))
    await console.login_as("alice")
    seen: list[str] = []
    path = "/session-history?limit=2"
    while True:
        body = await get_json(console, path)
        seen += [s["id"] for s in body["items"]]
        if body["next_before"] is None:
            break
        path = f"/session-history?limit=2&before={body['next_before']}"
    assert seen == ["s5", "s4", "s3", "s2", "s1"]


async def test_a_made_up_paging_cursor_is_refused(console: Console) -> None:
    await console.login_as("alice")
    for cursor in ("yesterday", quote("\u00b2.s1"), quote("\u0661\u0662.s1")):  # not ASCII digits: no 500
        body = await get_json(console, f"/session-history?before={cursor}", status=400)
        assert error_of(body) == "before: give the next_before value of the previous page"


# ---- the report -------------------------------------------------------------------------------------------------


async def test_the_report_shows_who_what_when_the_seats_the_timeline_and_the_recording(
    console: Console, tmp_path: Path
) -> None:
    await store(
        console,
        Past(
            "rep1",
            console.alice_id,
            "Alice",
            seats=[
                Seat(
                    console.bob_id,
                    "Bob",
                    "observer",
                    joined=timedelta(seconds=20),
                    left=timedelta(seconds=90),
                    left_reason="left",
                ),
                Seat(None, "Carol (vendor)", "observer", external=True, joined=timedelta(seconds=40)),
            ],
            timeline=[("system", "", "Bob joined as observer"), ("chat", "Bob", "see https://wiki.lan/x")],
        ),
    )
    write_cast(tmp_path, "rep1", [(0.5, "$ "), (1.5, "ls\r\n")])
    (recordings(tmp_path) / "rep1.txt").write_text("$ ls\n")
    await console.login_as("bob")
    body = await get_json(console, "/session-history/rep1")
    assert body["session"]["owner"] == {"id": console.alice_id, "name": "alice"}
    assert body["session"]["target"] == "root@web-01.lan:22"
    assert body["session"]["started_at"] == "2026-11-21T10:00:00Z"
    assert body["session"]["ended_at"] == "2026-11-21T10:05:00Z"
    assert [(p["name"], p["mode"], p["external"], p["left_reason"]) for p in body["participants"]] == [
        ("Alice", "owner", False, None),
        ("Bob", "observer", False, "left"),
        ("Carol (vendor)", "observer", True, None),
    ]
    assert body["participants"][1]["left_at"] == "2026-11-21T10:01:30Z"
    assert [(e["kind"], e["author"], e["text"]) for e in body["timeline"]] == [
        ("system", "", "Bob joined as observer"),
        ("chat", "Bob", "see https://wiki.lan/x"),
    ]
    assert body["timeline_truncated"] is False
    cast_size = (recordings(tmp_path) / "rep1.cast").stat().st_size
    assert body["recording"] == {"available": True, "deleted_at": None, "cast_bytes": cast_size, "transcript_bytes": 5}


async def test_a_live_session_is_reported_live_and_its_duration_grows(console: Console) -> None:
    started = datetime.now(UTC) - timedelta(seconds=42)
    await store(console, Past("live1", console.alice_id, "Alice", started=started, length=None))
    await console.login_as("alice")
    session = (await get_json(console, "/session-history/live1"))["session"]
    assert session["live"] is True
    assert session["ended_at"] is None
    assert 42 <= session["duration_seconds"] < 60


async def test_a_session_without_a_recording_says_so(console: Console) -> None:
    await store(console, Past("plain", console.alice_id, "Alice", recorded=False))
    await console.login_as("alice")
    body = await get_json(console, "/session-history/plain")
    assert body["recording"] == {"available": False, "deleted_at": None, "cast_bytes": None, "transcript_bytes": None}
    missing = await get_json(console, "/session-history/plain/recording.cast", status=404)
    assert error_of(missing) == "session plain has no recording"


@pytest.mark.parametrize(
    "suffix", ["", "/recording.cast", "/transcript.txt", "/timeline.txt"], ids=["report", "cast", "txt", "timeline"]
)
async def test_someone_who_was_not_in_the_session_gets_404_as_if_it_did_not_exist(
    three: Console, tmp_path: Path, suffix: str
) -> None:
    write_cast(tmp_path, "bravo", [(0.1, "x")])
    (recordings(tmp_path) / "bravo.txt").write_text("x\n")
    await three.login_as("alice")
    hidden = await get_json(three, f"/session-history/bravo{suffix}", status=404)
    missing = await get_json(three, f"/session-history/nosuch{suffix}", status=404)
    assert error_of(hidden) == "session bravo does not exist"
    assert error_of(missing) == "session nosuch does not exist"
    assert await accesses(three) == []


async def test_a_session_id_that_is_not_a_plain_name_never_reaches_the_disk(console: Console) -> None:
    await console.login_as("admin")
    body = await get_json(console, "/session-history/..%2F..%2Fetc%2Fpasswd/transcript.txt", status=404)
    assert "does not exist" in error_of(body)


# ---- the files --------------------------------------------------------------------------------------------------


async def test_the_cast_plays_is_not_cached_and_its_reading_is_audited(three: Console, tmp_path: Path) -> None:
    write_cast(tmp_path, "alpha", [(0.5, "$ "), (1.25, "whoami\r\nalice\r\n")])
    await three.login_as("bob")
    resp = await three.client.get("/api/v1/session-history/alpha/recording.cast")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert cast_events(await resp.text()) == [[0.5, "o", "$ "], [1.25, "o", "whoami\r\nalice\r\n"]]
    assert await accesses(three) == [("alpha", three.bob_id, "cast")]


async def test_a_torn_cast_is_cut_to_its_last_complete_event(three: Console, tmp_path: Path) -> None:
    write_cast(tmp_path, "alpha", [(0.5, "one"), (1.0, "two")], tail=b'[1.5, "o", "thr')
    await three.login_as("alice")
    resp = await three.client.get("/api/v1/session-history/alpha/recording.cast")
    assert resp.status == 200
    assert cast_events(await resp.text()) == [[0.5, "o", "one"], [1.0, "o", "two"]]


async def test_a_live_cast_returns_what_has_been_written_so_far(console: Console, tmp_path: Path) -> None:
    await store(console, Past("grow", console.alice_id, "Alice", started=datetime.now(UTC), length=None))
    path = write_cast(tmp_path, "grow", [(0.1, "a")])
    await console.login_as("alice")
    first = await console.client.get("/api/v1/session-history/grow/recording.cast")
    assert [e[2] for e in cast_events(await first.text())] == ["a"]
    with path.open("a") as cast:
        cast.write(json.dumps([0.2, "o", "b"]) + "\n" + '[0.3, "o"')
    second = await console.client.get("/api/v1/session-history/grow/recording.cast")
    assert [e[2] for e in cast_events(await second.text())] == ["a", "b"]


async def test_repeated_reads_of_a_file_within_a_minute_are_audited_once(three: Console, tmp_path: Path) -> None:
    write_cast(tmp_path, "alpha", [(0.1, "x")])
    (recordings(tmp_path) / "alpha.txt").write_text("x\n")
    await three.login_as("alice")
    for _ in range(3):
        assert (await three.client.get("/api/v1/session-history/alpha/recording.cast")).status == 200
    assert (await three.client.get("/api/v1/session-history/alpha/transcript.txt")).status == 200
    assert await accesses(three) == [("alpha", three.alice_id, "cast"), ("alpha", three.alice_id, "transcript")]


async def test_the_transcript_downloads_as_text_and_in_ranges(three: Console, tmp_path: Path) -> None:
    (recordings(tmp_path) / "alpha.txt").write_text("$ uptime\n 10:00 up 3 days\n")
    await three.login_as("alice")
    resp = await three.client.get("/api/v1/session-history/alpha/transcript.txt")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="alpha-transcript.txt"'
    assert await resp.text() == "$ uptime\n 10:00 up 3 days\n"
    part = await three.client.get("/api/v1/session-history/alpha/transcript.txt", headers={"Range": "bytes=0-7"})
    assert part.status == 206
    assert await part.text() == "$ uptime"
    assert part.headers["Content-Range"] == "bytes 0-7/26"


async def test_the_timeline_exports_as_one_line_per_message_or_event(console: Console) -> None:
    await store(
        console,
        Past(
            "talk",
            console.alice_id,
            "Alice",
            item_name="web-01",
            timeline=[
                ("system", "", "Bob joined as peer"),
                ("chat", "Bob", "hello"),
                ("chat", "Alice", "two\nlines"),
            ],
        ),
    )
    await console.login_as("alice")
    resp = await console.client.get("/api/v1/session-history/talk/timeline.txt")
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="talk-timeline.txt"'
    assert (await resp.text()).splitlines() == [
        "# OpenJump session talk: web-01 (root@web-01.lan:22); times are UTC",
        "[2026-11-21 10:00:01] * Bob joined as peer",
        "[2026-11-21 10:00:02] Bob: hello",
        "[2026-11-21 10:00:03] Alice: two",
        "    lines",
    ]
    assert await accesses(console) == [("talk", console.alice_id, "timeline")]


# ---- deleting ---------------------------------------------------------------------------------------------------


async def test_an_admin_deletes_a_recording_and_the_report_says_when(three: Console, tmp_path: Path) -> None:
    cast = write_cast(tmp_path, "alpha", [(0.1, "x")])
    transcript = recordings(tmp_path) / "alpha.txt"
    transcript.write_text("x\n")
    csrf = await three.login_as("admin")
    resp = await three.client.delete("/api/v1/session-history/alpha/recording", headers={"X-CSRF-Token": csrf})
    assert resp.status == 204, await resp.text()
    assert not cast.exists() and not transcript.exists()
    body = await get_json(three, "/session-history/alpha")
    assert body["recording"]["available"] is False
    assert body["recording"]["deleted_at"] is not None
    gone = await get_json(three, "/session-history/alpha/recording.cast", status=404)
    assert error_of(gone).startswith("the recording of session alpha was deleted on ")
    again = await three.client.delete("/api/v1/session-history/alpha/recording", headers={"X-CSRF-Token": csrf})
    assert again.status == 404
    async with three.db.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "recording.deleted"))
    assert event is not None
    assert (event.session_id, event.actor_user_id, event.source_address) == ("alpha", three.admin_id, "127.0.0.1")


async def test_a_participant_who_is_not_an_admin_cannot_delete_a_recording(three: Console, tmp_path: Path) -> None:
    cast = write_cast(tmp_path, "alpha", [(0.1, "x")])
    csrf = await three.login_as("alice")
    resp = await three.client.delete("/api/v1/session-history/alpha/recording", headers={"X-CSRF-Token": csrf})
    assert resp.status == 403
    assert error_of(await resp.json()) == "only an administrator may do this"
    assert cast.exists()


async def test_the_recording_of_a_live_session_cannot_be_deleted(console: Console, tmp_path: Path) -> None:
    await store(console, Past("running", console.alice_id, "Alice", length=None))
    write_cast(tmp_path, "running", [(0.1, "x")])
    csrf = await console.login_as("admin")
    resp = await console.client.delete("/api/v1/session-history/running/recording", headers={"X-CSRF-Token": csrf})
    assert resp.status == 409
    assert error_of(await resp.json()).startswith("this session is still running")


# ---- search -----------------------------------------------------------------------------------------------------


def write_transcript(tmp_path: Path, session_id: str, lines: list[tuple[float, str]]) -> None:
    """A transcript and its line-times index, as the recorder writes them."""
    directory = recordings(tmp_path)
    (directory / f"{session_id}.txt").write_text("".join(text + "\n" for _, text in lines))
    (directory / f"{session_id}.tidx").write_text("".join(f"{t:.3f}\n" for t, _ in lines))


async def search(console: Console, query: str, status: int = 200) -> Any:
    return await get_json(console, "/recordings/search" + query, status=status)


async def test_transcript_search_finds_lines_with_their_time_newest_session_first(
    three: Console, tmp_path: Path
) -> None:
    write_transcript(tmp_path, "alpha", [(1.5, "$ systemctl restart nginx"), (3.25, "Job failed: NGINX")])
    write_transcript(tmp_path, "charlie", [(12.0, "$ tail /var/log/nginx/error.log")])
    write_transcript(tmp_path, "bravo", [(2.0, "nginx: bob's secret session")])
    await three.login_as("alice")
    body = await search(three, "?q=nginx")
    assert [(h["session_id"], h["line"], h["text"], h["time"]) for h in body["items"]] == [
        ("charlie", 1, "$ tail /var/log/nginx/error.log", 12.0),
        ("alpha", 1, "$ systemctl restart nginx", 1.5),
        ("alpha", 2, "Job failed: NGINX", 3.25),
    ]
    assert body["items"][0]["item_name"] == "Mail relay"
    assert body["items"][0]["started_at"] == "2026-11-21T12:00:00Z"
    assert body["truncated"] is False


async def test_an_admin_searches_every_transcript_and_the_limit_marks_more(three: Console, tmp_path: Path) -> None:
    for name in ("alpha", "bravo", "charlie"):
        write_transcript(tmp_path, name, [(1.0, f"uptime on {name}")])
    await three.login_as("admin")
    body = await search(three, "?q=UPTIME&limit=2")
    assert [h["session_id"] for h in body["items"]] == ["charlie", "bravo"]
    assert body["truncated"] is True


async def test_deleted_recordings_are_not_searched(three: Console, tmp_path: Path) -> None:
    write_transcript(tmp_path, "alpha", [(1.0, "needle")])
    async with three.db.session() as session:
        record = await session.get(SessionRecord, "alpha")
        assert record is not None
        record.recording_deleted_at = T0
    await three.login_as("alice")
    assert (await search(three, "?q=needle"))["items"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?q=x", "q: String should have at least 2 characters"),
        ("?q=" + "x" * 257, "q: String should have at most 256 characters"),
        ("", "q: Field required"),
    ],
)
async def test_a_search_needs_2_to_256_characters(console: Console, query: str, message: str) -> None:
    await console.login_as("alice")
    assert error_of(await search(console, query, status=400)) == message


async def test_searching_transcripts_is_audited(three: Console, tmp_path: Path) -> None:
    write_transcript(tmp_path, "alpha", [(1.0, "reboot")])
    await three.login_as("alice")
    await search(three, "?q=reboot")
    async with three.db.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "recording.searched"))
    assert event is not None
    assert (event.actor_user_id, event.detail) == (three.alice_id, {"q": "reboot", "matches": 1})


# ---- retention --------------------------------------------------------------------------------------------------


def age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


async def test_the_retention_sweep_deletes_old_recordings_marks_them_and_audits_it(
    three: Console, tmp_path: Path
) -> None:
    old = write_cast(tmp_path, "alpha", [(0.1, "x")])
    write_transcript(tmp_path, "alpha", [(0.1, "x")])
    fresh = write_cast(tmp_path, "bravo", [(0.1, "y")])
    age(old, 31)
    age(fresh, 29)
    config = ConsoleConfig(state_dir=tmp_path, recordings=RecordingSettings(retention_days=30))
    assert await sweep_once(config, three.db) == ["alpha"]
    assert not old.exists() and not (recordings(tmp_path) / "alpha.txt").exists()
    assert fresh.exists()
    await three.login_as("alice")
    report = await get_json(three, "/session-history/alpha")
    assert report["recording"]["available"] is False
    assert report["recording"]["deleted_at"] is not None
    async with three.db.session() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "recording.expired"))).all()
    assert [(e.session_id, e.detail) for e in events] == [("alpha", {"retention_days": 30})]


async def test_the_retention_sweep_never_deletes_a_live_sessions_recording(console: Console, tmp_path: Path) -> None:
    quiet = write_cast(tmp_path, "quiet", [(0.1, "x")])  # live, but silent for longer than the retention period
    gone = write_cast(tmp_path, "gone", [(0.1, "y")])
    age(quiet, 40)
    age(gone, 40)
    config = ConsoleConfig(state_dir=tmp_path, recordings=RecordingSettings(retention_days=30))
    assert await sweep_once(config, console.db, live=["quiet"]) == ["gone"]
    assert quiet.exists() and not gone.exists()


async def test_retention_zero_keeps_recordings_forever(console: Console, tmp_path: Path) -> None:
    cast = write_cast(tmp_path, "ancient", [(0.1, "x")])
    age(cast, 10_000)
    config = ConsoleConfig(state_dir=tmp_path, recordings=RecordingSettings(retention_days=0))
    assert await sweep_once(config, console.db) == []
    assert cast.exists()


async def test_the_retention_task_runs_in_the_background_of_the_console(console: Console, tmp_path: Path) -> None:
    await store(console, Past("old1", console.alice_id, "Alice"))
    cast = write_cast(tmp_path, "old1", [(0.1, "x")])
    age(cast, 3)
    app = web.Application()
    app[CONFIG_KEY] = ConsoleConfig(state_dir=tmp_path, recordings=RecordingSettings(retention_days=2))
    app[DB_KEY] = console.db
    setup_retention(app, interval=0.05)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        for _ in range(100):
            if not cast.exists():
                break
            await asyncio.sleep(0.02)
    finally:
        await runner.cleanup()
    assert not cast.exists()
