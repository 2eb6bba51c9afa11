"""Console nodes talking through a real Redis (``console_web/cluster/node.py``): calls and their answers or errors,
broadcasts to the running nodes, pipes between nodes, and what an operator sees when a node id is taken or Redis is
not there."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from console_web.cluster import envelope
from console_web.cluster import node as node_module
from console_web.cluster.bus import NodeBus, NodeUnreachable
from console_web.cluster.envelope import BINARY, TEXT, Request
from console_web.cluster.node import ClusterNode
from console_web.cluster.pipe import CLOSE_UNREACHABLE
from console_web.config import ClusterSettings
from jumpoint.core.errors import ConfigError, InternalError, JumpError, NotFound, ServiceError
from tests.fixtures.redis import *  # noqa: F403
from tests.fixtures.redis import RedisServer, unique_node_ids
from tests.fixtures.servers import free_port

StartNode = Callable[..., Awaitable[ClusterNode]]
KEY = b"k" * 32  # the key nodes share through the database


@pytest.fixture
async def start_node(redis_server: RedisServer) -> AsyncIterator[StartNode]:
    """Start a node on the test Redis (a fresh node id unless given); every node is closed after the test."""
    nodes: list[ClusterNode] = []

    async def start(node_id: str | None = None, *, timeout: float = 2.0, url: str | None = None) -> ClusterNode:
        settings = ClusterSettings(
            node_id=node_id or unique_node_ids(1)[0],
            redis_url=url or redis_server.url,
            request_timeout_seconds=timeout,
        )
        node = ClusterNode(settings)
        nodes.append(node)
        await node.start(KEY)
        return node

    yield start
    for node in nodes:
        await node.close()


async def _echo(args: dict[str, Any], asker: str) -> Any:
    return {"args": args, "asker": asker}


async def _until_stopped(observer: ClusterNode, node_id: str) -> None:
    """Wait until Redis no longer counts the node's subscription (a closed connection is noticed by the server a
    moment after the client dropped it)."""
    async with asyncio.timeout(2):
        while await observer.bus.running([node_id]):
            await asyncio.sleep(0.01)


def _serve_whoami(*nodes: ClusterNode) -> None:
    for node in nodes:

        async def whoami(args: dict[str, Any], asker: str, node_id: str = node.node_id) -> Any:
            return {"node": node_id, "asker": asker}

        node.register("whoami", whoami)


# --- calls -----------------------------------------------------------------------------------------
async def test_a_call_to_another_node_returns_what_its_handler_returned(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()
    b.register("echo", _echo)
    args = {"session_id": f"{b.node_id}_abc", "n": [1, 2.5, None, True], "text": "grüß dich"}
    assert await b.call(b.node_id, "echo", args) == {"args": args, "asker": b.node_id}  # itself, without the bus
    assert await a.call(b.node_id, "echo", args) == {"args": args, "asker": a.node_id}


async def test_calls_from_both_sides_at_once_each_get_their_own_answer(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()
    _serve_whoami(a, b)
    answers = await asyncio.gather(*(x.call(y.node_id, "whoami", {}) for x, y in [(a, b), (b, a)] * 10))
    assert answers == [{"node": b.node_id, "asker": a.node_id}, {"node": a.node_id, "asker": b.node_id}] * 10


async def test_a_handler_raising_not_found_arrives_as_not_found_with_its_message(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()

    async def lookup(args: dict[str, Any], asker: str) -> Any:
        raise NotFound(f"session {args['id']} does not exist", hint="it may have ended")

    b.register("lookup", lookup)
    with pytest.raises(NotFound) as err:
        await a.call(b.node_id, "lookup", {"id": "x9"})
    assert err.value.message == "session x9 does not exist"
    assert err.value.hint == "it may have ended"


async def test_an_unexpected_failure_in_a_handler_arrives_as_an_internal_error(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()

    async def broken(args: dict[str, Any], asker: str) -> Any:
        raise KeyError("oops")

    b.register("broken", broken)
    with pytest.raises(InternalError) as err:
        await a.call(b.node_id, "broken", {})
    assert err.value.message == f"console node {b.node_id} failed serving broken"
    assert "oops" not in str(err.value)  # the details stay in the serving node's log


async def test_a_call_for_an_op_the_node_does_not_serve_is_not_found_naming_the_op(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()
    with pytest.raises(NotFound) as err:
        await a.call(b.node_id, "sessions.teleport", {})
    assert err.value.message == f"console node {b.node_id} does not serve 'sessions.teleport'"
    assert err.value.hint == "run one version on every node"


async def test_a_call_to_a_node_that_is_not_running_fails_at_once(start_node: StartNode) -> None:
    a = await start_node(timeout=30)
    (gone,) = unique_node_ids(1)
    async with asyncio.timeout(2):  # not after the request timeout
        with pytest.raises(NodeUnreachable, match=f"console node {gone} is not running"):
            await a.call(gone, "echo", {})


async def test_a_call_to_a_node_that_stopped_fails_at_once(start_node: StartNode) -> None:
    a, b = await start_node(timeout=30), await start_node()
    b.register("echo", _echo)
    await a.call(b.node_id, "echo", {})
    await b.close()
    await _until_stopped(a, b.node_id)
    async with asyncio.timeout(2):
        with pytest.raises(NodeUnreachable):
            await a.call(b.node_id, "echo", {})


async def test_a_node_that_does_not_answer_in_time_is_a_service_error_naming_it(start_node: StartNode) -> None:
    a, b = await start_node(timeout=0.5), await start_node()
    never = asyncio.Event()

    async def stuck(args: dict[str, Any], asker: str) -> Any:
        await never.wait()

    b.register("stuck", stuck)
    with pytest.raises(ServiceError, match=f"console node {b.node_id} did not answer stuck in time"):
        await a.call(b.node_id, "stuck", {})


# --- broadcasts ------------------------------------------------------------------------------------
async def test_a_broadcast_collects_the_answer_of_every_running_node(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()
    _serve_whoami(a, b)
    answers = await a.broadcast("whoami", {})
    assert sorted(answers, key=lambda pair: pair[0]) == sorted(
        [(a.node_id, {"node": a.node_id, "asker": a.node_id}), (b.node_id, {"node": b.node_id, "asker": a.node_id})]
    )


async def test_a_broadcast_waits_for_every_node_even_when_an_answer_beats_the_publish_reply(
    start_node: StartNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await start_node(), await start_node()

    async def slow(args: dict[str, Any], asker: str) -> Any:
        await asyncio.sleep(0.05)  # this node's own answer takes a moment (a database call)
        return "a"

    async def quick(args: dict[str, Any], asker: str) -> Any:
        return "b"

    a.register("load", slow)
    b.register("load", quick)
    publish = a.bus._publish

    async def late_publish_reply(channel: str, data: bytes) -> int:
        reached = await publish(channel, data)
        await asyncio.sleep(0.01)  # the loop is busy before it handles Redis's reply: b's answer is already here
        return reached

    monkeypatch.setattr(a.bus, "_publish", late_publish_reply)
    for _ in range(5):
        assert sorted(str(result) for _, result in await a.broadcast("load", {})) == ["a", "b"]


async def test_a_broadcast_after_a_node_stopped_collects_only_the_running_ones(start_node: StartNode) -> None:
    a, b, c = await start_node(), await start_node(), await start_node()
    _serve_whoami(a, b, c)
    assert len(await a.broadcast("whoami", {})) == 3
    await c.close()
    await _until_stopped(a, c.node_id)
    async with asyncio.timeout(1):  # no waiting for the stopped node's answer
        answers = await a.broadcast("whoami", {})
    assert sorted(node for node, _ in answers) == sorted([a.node_id, b.node_id])


async def test_a_broadcast_carries_each_nodes_error_next_to_the_others_results(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()

    async def only_on_a(args: dict[str, Any], asker: str) -> Any:
        return "here"

    a.register("where", only_on_a)
    answers = dict(await a.broadcast("where", {}))
    assert answers[a.node_id] == "here"
    error = answers[b.node_id]
    assert isinstance(error, NotFound) and isinstance(error, JumpError)
    assert error.message == f"console node {b.node_id} does not serve 'where'"


async def test_a_broadcast_returns_the_answers_that_came_in_time(start_node: StartNode) -> None:
    a, b = await start_node(timeout=0.5), await start_node()
    never = asyncio.Event()

    async def slow_on_b(args: dict[str, Any], asker: str) -> Any:
        await never.wait()

    async def quick_on_a(args: dict[str, Any], asker: str) -> Any:
        return "quick"

    a.register("count", quick_on_a)
    b.register("count", slow_on_b)
    assert await a.broadcast("count", {}) == [(a.node_id, "quick")]


# --- pipes -----------------------------------------------------------------------------------------
async def test_a_pipe_carries_frames_between_two_nodes_in_order(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()
    there = a.open_pipe(b.node_id)
    back = b.open_pipe(a.node_id, there.id)
    sent = [(TEXT, f'{{"n":{i}}}'.encode()) if i % 2 else (BINARY, bytes([i]) * 1000) for i in range(50)]
    for kind, payload in sent:
        await there.send(kind, payload)
    async with asyncio.timeout(5):
        assert [await back.receive() for _ in sent] == sent
        await back.send(TEXT, b"thanks")
        assert await there.receive() == (TEXT, b"thanks")
        await there.close(4000, "done")
        assert await back.receive() is None
    assert (back.close_code, back.close_reason) == (4000, "done")


async def test_a_pipe_id_already_open_on_the_node_is_refused(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()
    pipe = a.open_pipe(b.node_id)
    with pytest.raises(ServiceError, match="a pipe with this id is already open"):
        a.open_pipe(b.node_id, pipe.id)


async def test_a_pipe_whose_other_node_stops_is_ended_by_the_liveness_check(
    start_node: StartNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(node_module, "LIVENESS_INTERVAL", 0.05)
    a, b = await start_node(), await start_node()
    pipe = a.open_pipe(b.node_id)  # b never opened its end: nothing will tell a that b stopped
    await pipe.send(TEXT, b"hello")
    await b.close()
    async with asyncio.timeout(5):
        assert await pipe.receive() is None
    assert (pipe.close_code, pipe.close_reason) == (CLOSE_UNREACHABLE, "console node unreachable")
    again = a.open_pipe(b.node_id, pipe.id)  # the node forgot the ended pipe
    assert not again.closed


async def test_a_pipe_to_a_running_node_outlives_the_liveness_check(
    start_node: StartNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(node_module, "LIVENESS_INTERVAL", 0.02)
    a, b = await start_node(), await start_node()
    there = a.open_pipe(b.node_id)
    back = b.open_pipe(a.node_id, there.id)
    await asyncio.sleep(0.2)  # several checks
    assert not there.closed and not back.closed
    await there.send(TEXT, b"still here")
    async with asyncio.timeout(2):
        assert await back.receive() == (TEXT, b"still here")


async def test_a_stopping_node_closes_its_pipes_and_the_other_ends_see_why(start_node: StartNode) -> None:
    a, b = await start_node(), await start_node()
    there = a.open_pipe(b.node_id)
    back = b.open_pipe(a.node_id, there.id)
    await b.close()
    assert back.closed
    async with asyncio.timeout(2):
        assert await there.receive() is None
    assert (there.close_code, there.close_reason) == (1001, "console node stopping")


# --- starting --------------------------------------------------------------------------------------
async def test_a_second_node_with_a_node_id_already_running_is_refused(start_node: StartNode) -> None:
    a = await start_node()
    with pytest.raises(ConfigError, match=f"another console node already runs as cluster.node_id '{a.node_id}'"):
        await start_node(a.node_id)
    a.register("echo", _echo)
    assert await a.call(a.node_id, "echo", {}) == {"args": {}, "asker": a.node_id}  # the first one is unharmed


async def test_a_node_id_is_free_again_once_its_node_stopped(start_node: StartNode) -> None:
    a, observer = await start_node(), await start_node()
    await a.close()
    await _until_stopped(observer, a.node_id)
    again = await start_node(a.node_id)
    assert again.node_id == a.node_id


async def test_a_redis_url_where_nothing_listens_is_a_config_error_naming_the_url(start_node: StartNode) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    async with asyncio.timeout(10):
        with pytest.raises(ConfigError, match=f"cannot reach the cluster's Redis at {url}"):
            await start_node(url=url)


async def test_the_config_error_for_an_unreachable_redis_does_not_show_a_password_in_its_url() -> None:
    port = free_port()
    url = f"redis://openjump:hunter2@127.0.0.1:{port}/0?password=hunter3"
    bus = NodeBus("n1", url, None, lambda _data: None, lambda: None)
    try:
        async with asyncio.timeout(10):
            with pytest.raises(ConfigError) as err:
                await bus.start(KEY)
    finally:
        await bus.close()
    assert err.value.message.startswith(
        f"cannot reach the cluster's Redis at redis://openjump:***@127.0.0.1:{port}/0: "
    )
    assert "hunter" not in err.value.message


# --- ids -------------------------------------------------------------------------------------------
async def test_ids_made_on_a_node_say_which_node_made_them(start_node: StartNode) -> None:
    a = await start_node()
    assert a.id_prefix == f"{a.node_id}_"
    assert a.node_of(f"{a.id_prefix}5f2c") == a.node_id
    assert a.node_of("abcdefghij12_x") == "abcdefghij12"
    for not_a_cluster_id in ["5f2c", "node1_", "_5f2c", "abcdefghij123_x", "no-de_5f2c"]:
        assert a.node_of(not_a_cluster_id) is None


async def test_a_message_without_the_shared_keys_signature_is_dropped(
    start_node: StartNode, redis_server: RedisServer
) -> None:
    a, b = await start_node(), await start_node()
    seen: list[str] = []

    async def record(args: dict[str, Any], asker: str) -> Any:
        seen.append(asker)
        return "ok"

    b.register("record", record)
    forged = envelope.encode_request(Request("f1", "mallory", "record", {}))
    wrong_key = hmac.new(b"w" * 32, f"oj:n:{b.node_id}".encode() + b"\0" + forged, hashlib.sha256).digest()
    client = Redis.from_url(redis_server.url)
    try:
        for data in (forged, wrong_key + forged, b"\0" * 32 + forged):
            assert await client.publish(f"oj:n:{b.node_id}", data) == 1  # b got it ...
    finally:
        await client.aclose()
    assert await a.call(b.node_id, "record", {}) == "ok"  # ... and dropped all three: only a's signed call counts
    assert seen == [a.node_id]


async def test_nodes_with_different_keys_do_not_hear_each_other(start_node: StartNode) -> None:
    a = await start_node()
    b = ClusterNode(ClusterSettings(node_id=unique_node_ids(1)[0], redis_url=a.bus._url, request_timeout_seconds=0.5))
    await b.start(b"o" * 32)
    try:
        _serve_whoami(b)
        with pytest.raises(ServiceError, match="did not answer"):
            await a.call(b.node_id, "whoami", {})
    finally:
        await b.close()
