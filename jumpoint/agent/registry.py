"""Protocol adapters are found through the ``openjump.protocols`` entry point, not a closed list."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from jumpoint.core.adapter import ProtocolAdapter

log = logging.getLogger(__name__)


def load_adapters() -> dict[str, ProtocolAdapter]:
    """Instantiate every installed adapter, keyed by protocol name; a broken plugin is logged and skipped."""
    adapters: dict[str, ProtocolAdapter] = {}
    for ep in entry_points(group="openjump.protocols"):
        try:
            adapter: ProtocolAdapter = ep.load()()
        except Exception:
            log.exception("could not load protocol adapter %r from %s", ep.name, ep.value)
            continue
        adapters[adapter.name] = adapter
    return adapters
