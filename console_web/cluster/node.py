"""This console node in the cluster: requests to other nodes and their answers, and the pipes between them.

``call`` asks one node (this one directly, without the bus) and returns its answer or raises the error it raised
(the same :class:`~jumpoint.core.errors.JumpError` class and message); ``broadcast`` asks every running node and
collects what each answered. Handlers are registered by op name; a request for an unknown op, or one whose handler
fails unexpectedly, is answered with an error, never left unanswered. Pipes whose other node stops running (checked
every :data:`LIVENESS_INTERVAL` seconds) or that were cut by a lost Redis subscription end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from console_web.cluster import envelope
from console_web.cluster.bus import NodeBus
from console_web.cluster.envelope import BadEnvelope, Frame, Reply, Request
from console_web.cluster.pipe import Pipe, new_pipe_id
from console_web.config import ClusterSettings
from jumpoint.core.errors import Busy, InternalError, JumpError, NotFound, ServiceError

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], str], Awaitable[Any]]
LIVENESS_INTERVAL = 3.0
MAX_HANDLING = 512  # requests served at once; more are refused as Busy
MAX_PIPES = 20_000


class _Answers:
    """Answers awaited for one request id."""

    def __init__(self, expected: int | None) -> None:
        self.expected = expected  # None until Redis said how many nodes got a broadcast
        self.replies: list[Reply] = []
        self.done = asyncio.Event()

    def add(self, reply: Reply) -> None:
        self.replies.append(reply)
        self._check()

    def expect(self, count: int) -> None:
        """How many answers a broadcast waits for (answers may have come before Redis said so)."""
        self.expected = count
        self._check()

    def _check(self) -> None:
        if self.expected is not None and len(self.replies) >= self.expected:
            self.done.set()


class ClusterNode:
    """This node's requests, answers and pipes over its :class:`NodeBus`."""

    def __init__(self, settings: ClusterSettings) -> None:
        assert settings.node_id is not None and settings.redis_url is not None
        self.node_id = settings.node_id
        self.timeout = settings.request_timeout_seconds
        password = settings.redis_password.resolve() if settings.redis_password is not None else None
        self.bus = NodeBus(self.node_id, settings.redis_url, password, self._on_message, self._on_lost)
        self._handlers: dict[str, Handler] = {}
        self._answers: dict[str, _Answers] = {}
        self._pipes: dict[str, Pipe] = {}
        self._handling: set[asyncio.Task[None]] = set()
        self._liveness: asyncio.Task[None] | None = None

    @property
    def id_prefix(self) -> str:
        """What ids made on this node start with, so any node can tell where they live."""
        return f"{self.node_id}_"

    def node_of(self, identifier: str) -> str | None:
        """The node an id was made on (None: not a cluster id)."""
        node, sep, rest = identifier.partition("_")
        return node if sep and rest and node.isalnum() and len(node) <= 12 else None

    def register(self, op: str, handler: Handler) -> None:
        """Serve ``op`` with ``handler(args, asking_node)``; what it returns must be JSON."""
        self._handlers[op] = handler

    async def start(self, key: bytes) -> None:
        """Connect to Redis and serve requests, signing with ``key`` (the nodes' shared key; ConfigError when Redis
        cannot be reached)."""
        await self.bus.start(key)
        self._liveness = asyncio.create_task(self._check_peers(), name="cluster pipe liveness")
        log.info("console node %s joined the cluster", self.node_id)

    async def close(self) -> None:
        """End every pipe, stop serving, disconnect."""
        if self._liveness is not None:
            self._liveness.cancel()
        for pipe in list(self._pipes.values()):
            await pipe.close(1001, "console node stopping")
        for task in list(self._handling):
            task.cancel()
        await self.bus.close()

    # --- requests ----------------------------------------------------------------------------------
    async def call(self, node: str, op: str, args: dict[str, Any]) -> Any:
        """``op`` on ``node``: its result, or the JumpError it raised."""
        if node == self.node_id:
            return await self._run(op, args, self.node_id)
        request_id = secrets.token_hex(8)
        answers = self._answers[request_id] = _Answers(1)
        try:
            await self.bus.send(node, envelope.encode_request(Request(request_id, self.node_id, op, args)))
            await self._wait(answers, f"console node {node} did not answer {op} in time")
        finally:
            del self._answers[request_id]
        reply = answers.replies[0]
        if not reply.ok:
            raise JumpError.from_dict(reply.error or {})
        return reply.result

    async def broadcast(
        self, op: str, args: dict[str, Any], *, complete: bool = False
    ) -> list[tuple[str, Any | JumpError]]:
        """``op`` on every running node (this one included): (node, result or error) for each that answered in time
        (``complete``: ServiceError unless every node that got the request answered)."""
        request_id = secrets.token_hex(8)
        answers = self._answers[request_id] = _Answers(None)
        try:
            answers.expect(
                await self.bus.broadcast(envelope.encode_request(Request(request_id, self.node_id, op, args)))
            )
            with contextlib.suppress(ServiceError):
                await self._wait(answers, "")
        finally:
            del self._answers[request_id]
        expected = answers.expected or 0
        if len(answers.replies) < expected:
            if complete:
                missing = expected - len(answers.replies)
                raise ServiceError(f"{missing} console node(s) did not answer {op} in time")
            missing_count = expected - len(answers.replies)
            log.warning("%d of %d console nodes did not answer %s in time", missing_count, expected, op)
        return [(r.sender, r.result if r.ok else JumpError.from_dict(r.error or {})) for r in answers.replies]

    async def _wait(self, answers: _Answers, message: str) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await answers.done.wait()
        except TimeoutError:
            raise ServiceError(message or "a console node did not answer in time") from None

    async def _run(self, op: str, args: dict[str, Any], asker: str) -> Any:
        handler = self._handlers.get(op)
        if handler is None:
            raise NotFound(f"console node {self.node_id} does not serve {op!r}", hint="run one version on every node")
        return await handler(args, asker)

    async def _serve(self, request: Request) -> None:
        try:
            result = await self._run(request.op, request.args, request.sender)
            data = envelope.encode_reply(Reply(request.id, self.node_id, True, result))
        except JumpError as exc:
            data = envelope.encode_reply(Reply(request.id, self.node_id, False, error=exc.to_dict()))
        except Exception:
            log.exception("console node %s failed serving %s for node %s", self.node_id, request.op, request.sender)
            failed = InternalError(f"console node {self.node_id} failed serving {request.op}")
            data = envelope.encode_reply(Reply(request.id, self.node_id, False, error=failed.to_dict()))
        try:
            await self.bus.send(request.sender, data)
        except JumpError as exc:
            log.info("the answer to %s did not reach node %s: %s", request.op, request.sender, exc.message)

    async def live_session_ids(self) -> list[str]:
        """The ids of the sessions live on every running node (each answers ``sessions.ids``)."""
        ids: list[str] = []
        for node, result in await self.broadcast("sessions.ids", {}, complete=True):
            if isinstance(result, list):
                ids += [i for i in result if isinstance(i, str)]
            else:
                raise ServiceError(f"console node {node} did not list its live sessions")
        return ids

    # --- pipes -------------------------------------------------------------------------------------
    def open_pipe(self, peer: str, pipe_id: str | None = None) -> Pipe:
        """This node's end of a pipe to ``peer`` (a new id, or the one the other end chose)."""
        if len(self._pipes) >= MAX_PIPES:
            raise Busy("this console node carries too many sockets for other nodes")
        pipe = Pipe(pipe_id or new_pipe_id(), peer, self.bus.send, self._pipe_done)
        if pipe.id in self._pipes:
            raise ServiceError("a pipe with this id is already open")
        self._pipes[pipe.id] = pipe
        return pipe

    def _pipe_done(self, pipe: Pipe) -> None:
        if self._pipes.get(pipe.id) is pipe:
            del self._pipes[pipe.id]

    async def _check_peers(self) -> None:
        while True:
            await asyncio.sleep(LIVENESS_INTERVAL)
            peers = sorted({p.peer for p in self._pipes.values()})
            running = await self.bus.running(peers)
            for pipe in list(self._pipes.values()):
                if pipe.peer not in running:
                    pipe.fail(f"console node {pipe.peer} stopped")

    # --- the bus's reader --------------------------------------------------------------------------
    def _on_message(self, data: bytes) -> None:
        try:
            message = envelope.decode(data)
        except BadEnvelope as exc:
            log.warning("console node %s ignored a message from the bus: %s", self.node_id, exc)
            return
        if isinstance(message, Frame):
            pipe = self._pipes.get(message.pipe_id)
            if pipe is not None:
                pipe.on_frame(message)
        elif isinstance(message, Reply):
            answers = self._answers.get(message.id)
            if answers is not None:
                answers.add(message)
        elif len(self._handling) >= MAX_HANDLING:
            refusal = Reply(message.id, self.node_id, False, error=Busy("console node busy").to_dict())
            self._spawn(self._send_quietly(message.sender, envelope.encode_reply(refusal)))
        else:
            self._spawn(self._serve(message))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _send_quietly(self, node: str, data: bytes) -> None:
        with contextlib.suppress(JumpError):
            await self.bus.send(node, data)

    def _on_lost(self) -> None:
        for pipe in list(self._pipes.values()):
            pipe.fail("this node's Redis subscription was lost")
