"""The Prometheus text exposition the Jumpoint writes itself, and the wrappers that time stores and count
host-key decisions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from credential_store.local import LocalCredentialStore
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.agent.metrics import (
    Counter,
    Gauge,
    Histogram,
    JumpointMetrics,
    MeteredCredentialProvider,
    MeteredHostKeyStore,
    Registry,
    format_value,
)
from jumpoint.core.credentials import CredentialQuery
from jumpoint.core.errors import NotFound
from jumpoint.core.hostkeys import HostKey
from jumpoint.core.secret import Secret

# one sample line of the 0.0.4 text format: name, optional {label="value",...}, a value
SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? '
    r"(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$"
)


def assert_valid_exposition(text: str) -> None:
    """Every line is HELP, TYPE or a sample; every sample's family was typed before it."""
    assert text.endswith("\n")
    typed: dict[str, str] = {}
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram") and name not in typed
            typed[name] = kind
            continue
        assert SAMPLE.match(line), line
        name = line.split("{")[0].split(" ")[0]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, line


def test_counters_gauges_and_histograms_render_in_the_text_format() -> None:
    registry = Registry()
    jumps = Counter("x_jumps_total", "Jumps.", ("protocol",))
    up = Gauge("x_up", "Up.")
    latency = Histogram("x_seconds", "Latency.", ("protocol",), buckets=(0.1, 1))
    for family in (jumps, up, latency):
        registry.add(family)
    jumps.inc(protocol="ssh")
    jumps.inc(2, protocol="vnc")
    up.set(1)
    latency.observe(0.05, protocol="ssh")
    latency.observe(0.5, protocol="ssh")
    latency.observe(7, protocol="ssh")
    text = registry.render()
    assert_valid_exposition(text)
    assert text == (
        "# HELP x_jumps_total Jumps.\n# TYPE x_jumps_total counter\n"
        'x_jumps_total{protocol="ssh"} 1\nx_jumps_total{protocol="vnc"} 2\n'
        "# HELP x_up Up.\n# TYPE x_up gauge\nx_up 1\n"
        "# HELP x_seconds Latency.\n# TYPE x_seconds histogram\n"
        'x_seconds_bucket{protocol="ssh",le="0.1"} 1\n'
        'x_seconds_bucket{protocol="ssh",le="1"} 2\n'
        'x_seconds_bucket{protocol="ssh",le="+Inf"} 3\n'
        'x_seconds_sum{protocol="ssh"} 7.55\n'
        'x_seconds_count{protocol="ssh"} 3\n'
    )


def test_label_values_and_help_text_are_escaped() -> None:
    registry = Registry()
    errors = Counter("x_errors_total", "Help with a \\ and a\nnewline.", ("code",))
    registry.add(errors)
    errors.inc(code='say "hi"\\\n')
    text = registry.render()
    assert "# HELP x_errors_total Help with a \\\\ and a\\nnewline." in text
    assert 'x_errors_total{code="say \\"hi\\"\\\\\\n"} 1' in text
    assert_valid_exposition(text)


def test_values_are_written_as_prometheus_reads_them() -> None:
    assert [format_value(v) for v in (3.0, 0.25, float("inf"), float("-inf"), float("nan"))] == [
        "3",
        "0.25",
        "+Inf",
        "-Inf",
        "NaN",
    ]


def test_wrong_labels_and_a_counter_going_down_are_refused() -> None:
    jumps = Counter("x_total", "X.", ("protocol",))
    with pytest.raises(ValueError, match="takes the labels"):
        jumps.inc(proto="ssh")
    with pytest.raises(ValueError, match="only goes up"):
        jumps.inc(-1, protocol="ssh")
    registry = Registry()
    registry.add(jumps)
    with pytest.raises(ValueError, match="already registered"):
        registry.add(Counter("x_total", "again"))


def test_a_gauge_can_be_read_at_scrape_time() -> None:
    sessions = Gauge("x_sessions", "S.", ("protocol", "state"))
    live: dict[tuple[str, ...], float] = {("ssh", "connected"): 2.0}
    sessions.set_function(lambda: live)
    assert 'x_sessions{protocol="ssh",state="connected"} 2' in "\n".join(sessions.samples())
    live[("ssh", "connected")] = 0.0
    assert 'x_sessions{protocol="ssh",state="connected"} 0' in "\n".join(sessions.samples())


def test_the_jumpoint_metrics_render_valid_with_every_family_named_openjump_jumpoint() -> None:
    metrics = JumpointMetrics()
    metrics.jump_seconds.observe(0.3, protocol="ssh")
    metrics.store_errors.inc(store="vault", operation="fetch", code="credential_store_unavailable")
    text = metrics.render()
    assert_valid_exposition(text)
    families = [line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert all(name.startswith("openjump_jumpoint_") for name in families)
    for expected in (
        "openjump_jumpoint_sessions",
        "openjump_jumpoint_jump_duration_seconds",
        "openjump_jumpoint_session_bytes_total",
        "openjump_jumpoint_tunnel_reconnects_total",
        "openjump_jumpoint_credential_store_duration_seconds",
        "openjump_jumpoint_credential_store_errors_total",
        "openjump_jumpoint_host_key_decisions_total",
    ):
        assert expected in families
    assert 'openjump_jumpoint_host_key_decisions_total{decision="save"} 0' in text


async def test_a_metered_store_times_fetches_and_listings_and_counts_failures_by_code(tmp_path: Path) -> None:
    metrics = JumpointMetrics()
    inner = LocalCredentialStore(tmp_path)
    inner.add("lab/web", "password", "root", password=Secret("pw"))
    store = MeteredCredentialProvider("local", inner, metrics)
    assert (await store.fetch("lab/web", purpose="test")).username == "root"
    with pytest.raises(NotFound):
        await store.fetch("lab/none", purpose="test")
    query = CredentialQuery(scopes=("local:lab/",), item="i", user="u", search="", limit=10)
    assert [c.ref for c in await store.list_for(["lab/"], query)] == ["local:lab/web"]
    assert metrics.store_seconds.count(store="local", operation="fetch") == 2
    assert metrics.store_seconds.count(store="local", operation="list") == 1
    assert metrics.store_errors.value(store="local", operation="fetch", code="not_found") == 1
    await store.aclose()


def test_a_metered_host_key_store_counts_valid_and_mismatch_but_leaves_unknown_to_the_rep(tmp_path: Path) -> None:
    metrics = JumpointMetrics()
    store = MeteredHostKeyStore(FileHostKeyStore(tmp_path / "known_hosts"), metrics)
    key = HostKey("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
    other = HostKey("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIBJtsvVY3Kxr9PDy2tNpbQfL6FSfMn0GCrZuYi9Va3dR")
    assert store.check("h", 22, key).status == "unknown"
    store.trust("h", 22, key)
    assert store.check("h", 22, key).status == "valid"
    assert store.check("h", 22, other).status == "mismatch"
    counted = {d: metrics.host_key_decisions.value(decision=d) for d in ("valid", "mismatch", "save")}
    assert counted == {"valid": 1, "mismatch": 1, "save": 0}
    assert [k.host for k in store.list()] == ["h"] and store.remove("h", 22) == 1
