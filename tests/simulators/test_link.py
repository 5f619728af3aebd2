"""Bad 4G (`simulators.link`): the shaper's arithmetic on made-up times, the pipe on a loop."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import pytest

from devices.protocol.topics import Topics
from loa.mqtt import Message
from simulators.link import Inbound, LinkShape, Pipe, Shaper, link_seed, wire_size


def test_a_perfect_link_delivers_at_once() -> None:
    shaper = Shaper(LinkShape(), seed=1)
    assert LinkShape().idle
    assert [shaper.incoming(t, 1000) for t in (1.0, 2.0, 2.5)] == [1.0, 2.0, 2.5]
    assert shaper.outgoing(3.0) == 3.0


def test_latency_and_jitter_stay_within_their_bounds_and_vary() -> None:
    shaper = Shaper(LinkShape(latency_ms=300, jitter_ms=200), seed=7)
    delays = []
    for step in range(2000):
        now = step * 10.0  # far apart: no message waits for the one before
        due = shaper.incoming(now, 100)
        assert due is not None
        delays.append(due - now)
    assert min(delays) >= 0.1
    assert max(delays) <= 0.5
    assert min(delays) < 0.12  # the whole range is used
    assert max(delays) > 0.48
    assert sum(delays) / len(delays) == pytest.approx(0.3, abs=0.01)


def test_jitter_larger_than_latency_never_delivers_before_arrival() -> None:
    shaper = Shaper(LinkShape(latency_ms=10, jitter_ms=500), seed=3)
    for step in range(500):
        due = shaper.incoming(step * 5.0, 10)
        assert due is not None
        assert due >= step * 5.0


def test_order_is_kept_whatever_the_jitter() -> None:
    shaper = Shaper(LinkShape(latency_ms=300, jitter_ms=299), seed=11)
    dues = [shaper.incoming(i * 0.01, 100) for i in range(1000)]
    assert all(d is not None for d in dues)
    assert dues == sorted(dues)  # type: ignore[type-var]
    outs = [shaper.outgoing(i * 0.01) for i in range(1000)]
    assert outs == sorted(outs)


@pytest.mark.parametrize(("size", "kbit_s"), [(8000, 64.0), (32_768, 64.0), (1000, 1.0)])
def test_n_bytes_at_k_kbit_s_take_n_times_8_over_k_ms(size: int, kbit_s: float) -> None:
    shaper = Shaper(LinkShape(kbit_s=kbit_s), seed=0)
    assert shaper.incoming(10.0, size) == pytest.approx(10.0 + size * 8 / kbit_s / 1000)


def test_a_capped_link_is_a_queue_bytes_wait_their_turn() -> None:
    shaper = Shaper(LinkShape(latency_ms=100, kbit_s=64), seed=0)
    chunk_s = 8000 * 8 / 64_000  # 1 s per 8000-byte message
    dues = [shaper.incoming(0.0, 8000) for _ in range(5)]  # a burst of five
    assert dues == pytest.approx([(i + 1) * chunk_s + 0.1 for i in range(5)])
    # the queue drained long ago: a late message waits only for itself
    assert shaper.incoming(100.0, 8000) == pytest.approx(100.0 + chunk_s + 0.1)
    # outgoing messages pay latency only: the cap is the downlink's
    assert shaper.outgoing(200.0) == pytest.approx(200.1)


def test_chunk_loss_is_near_its_rate_and_only_chunks_are_lost() -> None:
    shaper = Shaper(LinkShape(chunk_loss=0.05), seed=42)
    lost = sum(shaper.incoming(float(i), 1024, chunk=True) is None for i in range(20_000))
    assert lost / 20_000 == pytest.approx(0.05, abs=0.006)
    assert all(shaper.incoming(float(i), 100) is not None for i in range(20_000, 21_000))


def test_the_same_seed_and_id_lose_the_same_chunks() -> None:
    def losses(seed: int, receiver: str) -> list[int]:
        shaper = Shaper(LinkShape(chunk_loss=0.3, jitter_ms=50), link_seed(seed, receiver))
        return [i for i in range(300) if shaper.incoming(float(i), 10, chunk=True) is None]

    assert losses(5, "cb-tl-01") == losses(5, "cb-tl-01")
    assert losses(5, "cb-tl-01") != losses(5, "cb-tl-02")
    assert losses(5, "cb-tl-01") != losses(6, "cb-tl-01")


def test_a_new_connection_forgets_what_was_in_flight() -> None:
    shaper = Shaper(LinkShape(kbit_s=8), seed=0)
    assert shaper.incoming(0.0, 10_000) == pytest.approx(10.0)
    shaper.reset()
    assert shaper.incoming(1.0, 1000) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latency_ms": -1}, "latency_ms"),
        ({"jitter_ms": float("nan")}, "jitter_ms"),
        ({"kbit_s": 0}, "kbit_s"),
        ({"chunk_loss": 1.5}, "chunk_loss"),
    ],
)
def test_a_bad_shape_says_which_field(changes: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=f"LinkShape.{field}"):
        LinkShape(**changes)


def test_wire_size_counts_the_mqtt_header() -> None:
    assert wire_size("a/b", b"x" * 10) == 1 + 1 + 2 + 3 + 2 + 10
    assert wire_size("t", b"x" * 1000) == 1 + 2 + 2 + 1 + 2 + 1000


async def test_a_pipe_delivers_in_push_order_at_its_times() -> None:
    loop = asyncio.get_running_loop()
    got: list[tuple[int, float]] = []
    pipe: Pipe[int] = Pipe(lambda item: got.append((item, loop.time())))
    start = loop.time()
    for index, delay in enumerate([0.05, 0.05, 0.05, 0.1, 0.15]):
        pipe.push(start + delay, index)
    assert len(pipe) == 5
    await asyncio.sleep(0.3)
    assert [item for item, _ in got] == [0, 1, 2, 3, 4]
    assert all(at >= start + 0.05 for _, at in got)
    assert got[-1][1] >= start + 0.15
    assert len(pipe) == 0


async def test_a_cleared_pipe_delivers_nothing() -> None:
    loop = asyncio.get_running_loop()
    got: list[int] = []
    pipe: Pipe[int] = Pipe(got.append)
    pipe.push(loop.time() + 0.05, 1)
    pipe.clear()
    await asyncio.sleep(0.1)
    assert got == []


async def test_a_slow_firmware_handles_commands_one_at_a_time_and_chunks_wait_their_turn() -> None:
    topics = Topics("t")
    loop = asyncio.get_running_loop()
    handled: list[tuple[str, float]] = []
    inbound = Inbound(lambda m: handled.append((m.topic, loop.time())), topics, seed=1)
    command = topics.receiver("rx1", "cmd")
    chunk = topics.receiver_chunk("rx1", "a" * 64, 0)
    inbound.receive(Message(chunk, b"x"))  # a quick firmware: handled at once
    assert [topic for topic, _ in handled] == [chunk]
    inbound.slow_s = 0.1
    start = loop.time()
    for topic in (command, chunk, command):
        assert inbound.receive(Message(topic, b"x"))
    assert len(inbound) == 3
    await asyncio.sleep(0.35)
    assert [topic for topic, _ in handled[1:]] == [command, chunk, command]
    times = [at - start for _, at in handled[1:]]
    assert times[0] >= 0.1
    assert times[1] >= times[0]  # the chunk came after the first command: it waited
    assert times[2] >= 0.2  # the second command waited for the first
    inbound.reset()
    assert len(inbound) == 0


async def test_a_lossy_link_loses_chunks_never_commands() -> None:
    topics = Topics("t")
    handled: list[str] = []
    inbound = Inbound(lambda m: handled.append(m.topic), topics, seed=1)
    inbound.set_shape(LinkShape(chunk_loss=1.0))
    assert not inbound.receive(Message(topics.receiver_chunk("rx1", "a" * 64, 0), b"x"))
    assert inbound.receive(Message(topics.receiver("rx1", "cmd"), b"x"))
    await asyncio.sleep(0.01)
    assert handled == [topics.receiver("rx1", "cmd")]
    assert inbound.set_shape(None) is None  # nothing in flight: the shaper goes


def test_an_idle_shaper_costs_a_few_hundred_bytes() -> None:
    """The memory one shaped receiver adds (the shape itself is shared by a fault)."""
    shape = LinkShape(latency_ms=300, jitter_ms=200, kbit_s=64, chunk_loss=0.05)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    shapers = [Shaper(shape, link_seed(1, f"rx-{i:05d}")) for i in range(1000)]
    for index, shaper in enumerate(shapers):
        shaper.incoming(float(index), 100, chunk=True)  # draws made, times set
    per_shaper = (tracemalloc.get_traced_memory()[0] - before) / len(shapers)
    tracemalloc.stop()
    assert per_shaper < 300, f"{per_shaper:.0f} bytes per shaped receiver"
