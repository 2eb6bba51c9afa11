"""The event loop the long-running services (``openjump serve``/``allinone``, ``jumpoint run``) run on.

uvloop (libuv, with its TLS transport in Cython) by default: every keystroke crosses four TLS sockets between the
browser and the target, and asyncio's pure-Python SSL transport and loop were a measurable part of each hop
(docs/performance.md, "uvloop and the allocator"). ``OPENJUMP_EVENT_LOOP=asyncio`` selects the standard loop
instead, for a platform without uvloop or to rule the loop out while chasing a problem; any other value is refused.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

from jumpoint.core.errors import ConfigError

ENVIRONMENT_VARIABLE: Final = "OPENJUMP_EVENT_LOOP"
CHOICES: Final = ("uvloop", "asyncio")

T = TypeVar("T")


def loop_factory(environ: dict[str, str] | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes the services' event loop, as ``OPENJUMP_EVENT_LOOP`` (in ``environ``, default the process's)
    chooses: ``uvloop`` (the default) or ``asyncio``. Another value raises :class:`ConfigError`."""
    choice = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "") or "uvloop"
    if choice == "asyncio":
        return asyncio.new_event_loop
    if choice == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    raise ConfigError(
        f"{ENVIRONMENT_VARIABLE}={choice!r} is not an event loop this service can run on: use one of "
        f"{', '.join(CHOICES)} (or leave it unset for uvloop)"
    )


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new event loop from :func:`loop_factory` (like :func:`asyncio.run`)."""
    try:
        factory = loop_factory()
    except ConfigError:
        main.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
