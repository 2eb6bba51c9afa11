"""How the console and the Jumpoint run their event loop: uvloop by default, the standard loop on request.

uvloop (libuv) cuts the per-wakeup cost of the loop; on the keystroke path, which crosses two WebSockets and
the SSH channel, that took the added echo latency from about 0.8 ms to 0.5 ms (p50, see docs/performance.md).
``OPENJUMP_EVENT_LOOP=asyncio`` selects the standard loop (for debugging, or a platform without uvloop).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")

ENV_VAR = "OPENJUMP_EVENT_LOOP"


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: what :func:`run` will use (an unknown value means the default, uvloop)."""
    return "asyncio" if os.environ.get(ENV_VAR, "").strip().lower() == "asyncio" else "uvloop"


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` to completion on a new event loop, like :func:`asyncio.run`."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
