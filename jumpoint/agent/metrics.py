"""The Jumpoint's Prometheus metrics, written in the text exposition format (version 0.0.4) by hand.

A :class:`Registry` holds metric families (:class:`Counter`, :class:`Gauge`, :class:`Histogram`), each with a
fixed tuple of label names; :meth:`Registry.render` writes them all for ``GET /metrics``. Everything runs on the
event loop, so nothing is locked. :class:`JumpointMetrics` is the set this Jumpoint keeps (every name starts with
``openjump_jumpoint_``); :class:`MeteredCredentialProvider` and :class:`MeteredHostKeyStore` wrap a credential
store and the host-key cache to time and count what they do. Label values are protocol names, store names,
operation names and error codes, never targets, users or secrets, so the number of series stays small.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Literal

from credential_store.base import CredentialProvider
from jumpoint.core.credentials import Credential, CredentialInfo, CredentialQuery
from jumpoint.core.errors import JumpError
from jumpoint.core.hostkeys import HostKey, HostKeyStore, HostKeyVerdict, KnownHost

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LabelValues = tuple[str, ...]

# Jump latency: most Jumps take tens of milliseconds to a few seconds; 30 s is a connect timeout.
JUMP_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Credential stores: the local store answers in microseconds to milliseconds, Vault in tens to hundreds of ms.
STORE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as the format writes it: integers without a fraction, ``+Inf``, ``-Inf``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: tuple[str, str] | None = None) -> str:
    pairs = [f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True)]
    if extra is not None:
        pairs.append(f'{extra[0]}="{extra[1]}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Family:
    """One metric family: a name, its help text, its type and its label names."""

    kind: str = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)

    def _key(self, labels: Mapping[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes the labels {self.labelnames}, not {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def samples(self) -> Iterator[str]:
        """The family's sample lines."""
        return iter(())

    def render(self) -> Iterator[str]:
        """``# HELP``, ``# TYPE`` and the sample lines."""
        yield f"# HELP {self.name} {_escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        yield from self.samples()


class Counter(_Family):
    """A value that only goes up (its name ends in ``_total``)."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}
        if not self.labelnames:
            self._values[()] = 0.0

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (>= 0) to the series ``labels`` names."""
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """The current value of one series (0 when it was never touched)."""
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> Iterator[str]:
        for key in sorted(self._values):
            yield f"{self.name}{_labels(self.labelnames, key)} {format_value(self._values[key])}"


class Gauge(_Family):
    """A value that goes up and down; set directly, or read at scrape time from a function."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        read: Callable[[], Mapping[LabelValues, float]] | None = None,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}
        self._read = read
        if not self.labelnames and read is None:
            self._values[()] = 0.0

    def set(self, value: float, **labels: str) -> None:
        """Set the series ``labels`` names."""
        self._values[self._key(labels)] = float(value)

    def set_function(self, read: Callable[[], Mapping[LabelValues, float]] | None) -> None:
        """Read the values at scrape time from ``read`` (label values in label-name order -> value)."""
        self._read = read

    def current(self) -> dict[LabelValues, float]:
        """Every series and its value now."""
        values = dict(self._values)
        if self._read is not None:
            values.update(self._read())
        return values

    def samples(self) -> Iterator[str]:
        values = self.current()
        for key in sorted(values):
            yield f"{self.name}{_labels(self.labelnames, key)} {format_value(values[key])}"


class Histogram(_Family):
    """Observations counted into cumulative buckets (``le``), with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = (), *, buckets: Iterable[float]) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(float(b) for b in buckets))
        if not self.buckets or "le" in self.labelnames:
            raise ValueError("a histogram needs buckets and cannot have a label named 'le'")
        self._series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: str) -> None:
        """Count ``value`` into the series ``labels`` names."""
        key = self._key(labels)
        counts, total = self._series.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
        total[0] += value

    def count(self, **labels: str) -> int:
        """How many observations the series ``labels`` names holds."""
        series = self._series.get(self._key(labels))
        return sum(series[0]) if series is not None else 0

    def samples(self) -> Iterator[str]:
        for key in sorted(self._series):
            counts, total = self._series[key]
            cumulative = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                cumulative += n
                le = _labels(self.labelnames, key, ("le", format_value(bound)))
                yield f"{self.name}_bucket{le} {cumulative}"
            yield f"{self.name}_sum{_labels(self.labelnames, key)} {format_value(total[0])}"
            yield f"{self.name}_count{_labels(self.labelnames, key)} {cumulative}"


class Registry:
    """The metric families of one process, rendered in registration order."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def add(self, family: _Family) -> None:
        """Register ``family``; its name must be new."""
        if family.name in self._families:
            raise ValueError(f"the metric {family.name} is already registered")
        self._families[family.name] = family

    def render(self) -> str:
        """The whole exposition, ending with a newline."""
        lines: list[str] = []
        for family in self._families.values():
            lines.extend(family.render())
        return "\n".join(lines) + "\n"


class JumpointMetrics:
    """What a Jumpoint counts; the tunnel, the session runners and the wrapped stores update it."""

    def __init__(self) -> None:
        self.registry = Registry()
        p = "openjump_jumpoint_"
        self.tunnel_connected = Gauge(p + "tunnel_connected", "1 while the tunnel to the console is up, else 0.")
        self.tunnel_reconnects = Counter(
            p + "tunnel_reconnects_total", "Times the tunnel was lost or could not be opened, and was tried again."
        )
        self.tunnel_bytes = Counter(
            p + "tunnel_bytes_total",
            "Bytes of tunnel frames, all channels and headers included; direction is sent or received.",
            ("direction",),
        )
        self.draining = Gauge(p + "draining", "1 while the Jumpoint is shutting down and refuses new Jumps.")
        self.sessions = Gauge(
            p + "sessions",
            "Sessions running now, by protocol and state (connecting: logging in; connected: in use).",
            ("protocol", "state"),
        )
        self.jumps = Counter(
            p + "jumps_total",
            "Jumps that ended their start: result is connected, or the error code that stopped them.",
            ("protocol", "result"),
        )
        self.jump_seconds = Histogram(
            p + "jump_duration_seconds",
            "Time from the console's open to the session being connected, without the time spent waiting for the "
            "rep to answer host-key and login prompts.",
            ("protocol",),
            buckets=JUMP_BUCKETS,
        )
        self.session_bytes = Counter(
            p + "session_bytes_total",
            "Session bytes through the Jumpoint: direction from_target (output) or to_target (keys).",
            ("protocol", "direction"),
        )
        self.store_seconds = Histogram(
            p + "credential_store_duration_seconds",
            "Time a credential store took to answer, by store and operation (fetch or list), errors included.",
            ("store", "operation"),
            buckets=STORE_BUCKETS,
        )
        self.store_errors = Counter(
            p + "credential_store_errors_total",
            "Credential store calls that failed, by store, operation and error code.",
            ("store", "operation", "code"),
        )
        self.host_key_decisions = Counter(
            p + "host_key_decisions_total",
            "Host-key checks: valid (cached key matched), mismatch (refused), or the rep's answer to an unknown "
            "key (save, once, abort).",
            ("decision",),
        )
        for family in (
            self.tunnel_connected,
            self.tunnel_reconnects,
            self.tunnel_bytes,
            self.draining,
            self.sessions,
            self.jumps,
            self.jump_seconds,
            self.session_bytes,
            self.store_seconds,
            self.store_errors,
            self.host_key_decisions,
        ):
            self.registry.add(family)
        for direction in ("sent", "received"):
            self.tunnel_bytes.inc(0, direction=direction)
        for decision in ("valid", "mismatch", "save", "once", "abort"):
            self.host_key_decisions.inc(0, decision=decision)

    def render(self) -> str:
        """The exposition for ``GET /metrics``."""
        return self.registry.render()


StoreOperation = Literal["fetch", "list"]


class MeteredCredentialProvider:
    """A credential store that times every call and counts its failures (by error code) into the metrics."""

    def __init__(self, name: str, inner: CredentialProvider, metrics: JumpointMetrics) -> None:
        self.name = name
        self.inner = inner
        self._metrics = metrics

    def _done(self, operation: StoreOperation, started: float, error: BaseException | None) -> None:
        self._metrics.store_seconds.observe(time.monotonic() - started, store=self.name, operation=operation)
        if error is not None:
            code = error.code if isinstance(error, JumpError) else "internal_error"
            self._metrics.store_errors.inc(store=self.name, operation=operation, code=code)

    async def list_for(self, paths: list[str], query: CredentialQuery) -> list[CredentialInfo]:
        """The inner store's listing, timed."""
        started = time.monotonic()
        try:
            result = await self.inner.list_for(paths, query)
        except Exception as exc:
            self._done("list", started, exc)
            raise
        self._done("list", started, None)
        return result

    async def fetch(self, path: str, *, purpose: str, username: str | None = None) -> Credential:
        """The inner store's credential, timed."""
        started = time.monotonic()
        try:
            result = await self.inner.fetch(path, purpose=purpose, username=username)
        except Exception as exc:
            self._done("fetch", started, exc)
            raise
        self._done("fetch", started, None)
        return result

    async def aclose(self) -> None:
        """Close the inner store."""
        await self.inner.aclose()


class MeteredHostKeyStore:
    """The host-key cache, counting each check's verdict when it decides alone (valid, mismatch)."""

    def __init__(self, inner: HostKeyStore, metrics: JumpointMetrics) -> None:
        self.inner = inner
        self._metrics = metrics

    def check(self, host: str, port: int, key: HostKey) -> HostKeyVerdict:
        """The inner verdict; an unknown key is counted later, with the rep's answer."""
        verdict = self.inner.check(host, port, key)
        if verdict.status != "unknown":
            self._metrics.host_key_decisions.inc(decision=verdict.status)
        return verdict

    def trust(self, host: str, port: int, key: HostKey) -> None:
        """Save ``key`` in the inner store."""
        self.inner.trust(host, port, key)

    def list(self) -> list[KnownHost]:
        """The inner store's keys."""
        return self.inner.list()

    def remove(self, host: str, port: int, fingerprint: str | None = None) -> int:
        """Remove from the inner store."""
        return self.inner.remove(host, port, fingerprint)
