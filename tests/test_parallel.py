"""``parallel.run_pipelined``: produce on the codec pool, consume on the calling thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import zarrdask
from zarrdask import parallel

SMALL, LARGE = 1 << 10, 1 << 20  # chunk sizes below and above min_parallel_chunk_bytes


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("chunk_nbytes", [SMALL, LARGE])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 500])
def test_every_item_is_consumed_once_on_the_calling_thread(
        threads: int, chunk_nbytes: int, n: int) -> None:
    caller = threading.get_ident()
    produced_on: set[int] = set()
    consumed: list[int] = []

    def produce(i: int) -> int:
        produced_on.add(threading.get_ident())
        return i * i

    def consume(value: int) -> None:
        assert threading.get_ident() == caller
        consumed.append(value)

    with zarrdask.config.set(codec_threads=threads):
        parallel.run_pipelined(produce, list(range(n)), consume, chunk_nbytes)
    assert sorted(consumed) == [i * i for i in range(n)]
    if threads == 1 or n < 2:
        assert produced_on <= {caller}  # nothing to overlap: all on the caller, in order
        assert consumed == [i * i for i in range(n)]
    else:
        assert caller not in produced_on


@pytest.mark.parametrize("chunk_nbytes", [SMALL, LARGE])
def test_producer_error_stops_and_is_raised_after_producers_finish(chunk_nbytes: int) -> None:
    running = [0]
    lock = threading.Lock()
    consumed: list[int] = []

    def produce(i: int) -> int:
        with lock:
            running[0] += 1
        try:
            time.sleep(0.001)
            if i == 5:
                raise ValueError("chunk 5 is bad")
            return i
        finally:
            with lock:
                running[0] -= 1

    with zarrdask.config.set(codec_threads=2), pytest.raises(ValueError, match="chunk 5"):
        parallel.run_pipelined(produce, list(range(400)), consumed.append, chunk_nbytes)
    assert running[0] == 0  # nothing still works on the caller's behalf
    assert len(consumed) < 400  # the other producer stopped early


def test_consumer_error_stops_producers_and_is_raised() -> None:
    produced: list[int] = []

    def consume(value: int) -> None:
        if value == 3:
            raise OSError(28, "No space left on device")

    def produce(i: int) -> int:
        produced.append(i)
        time.sleep(0.0005)
        return i

    with zarrdask.config.set(codec_threads=2), pytest.raises(OSError, match="No space"):
        parallel.run_pipelined(produce, list(range(1000)), consume, SMALL)
    assert len(produced) < 1000


def test_results_waiting_for_the_consumer_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_PENDING_BYTES", 8 * SMALL)  # room for 8 small results
    pending = [0]
    peak = [0]
    lock = threading.Lock()

    def produce(i: int) -> int:
        with lock:
            pending[0] += 1
            peak[0] = max(peak[0], pending[0])
        return i

    def consume(value: int) -> None:
        time.sleep(0.001)  # a slow disk
        with lock:
            pending[0] -= 1

    with zarrdask.config.set(codec_threads=2):
        parallel.run_pipelined(produce, list(range(200)), consume, SMALL)
    assert pending[0] == 0
    # the queue limit, plus one result per producer made while the limit was checked
    assert peak[0] <= 8 + 1 + 2


def test_called_from_a_pool_thread_runs_inline() -> None:
    def outer(_: Any) -> None:
        seen: list[int] = []
        here = threading.get_ident()

        def produce(i: int) -> int:
            assert threading.get_ident() == here
            return i

        parallel.run_pipelined(produce, list(range(20)), seen.append, SMALL)
        assert seen == list(range(20))

    with zarrdask.config.set(codec_threads=2):
        parallel.run_items(outer, [0, 1], LARGE)


def _producer_threads(produce_s: float, consume_s: float, chunk_nbytes: int) -> set[int]:
    threads: set[int] = set()

    def produce(i: int) -> int:
        threads.add(threading.get_ident())
        time.sleep(produce_s)
        return i

    with zarrdask.config.set(codec_threads=2):
        parallel.run_pipelined(produce, list(range(60)), lambda _: time.sleep(consume_s),
                               chunk_nbytes)
    return threads


def test_small_chunks_leave_the_caller_a_core_while_it_is_the_bottleneck() -> None:
    assert len(_producer_threads(0.0, 0.001, SMALL)) == 1


def test_a_slow_codec_gets_every_producer() -> None:
    assert len(_producer_threads(0.002, 0.0, SMALL)) == 2  # the caller kept waiting
    assert len(_producer_threads(0.0, 0.001, LARGE)) == 2  # large chunks: all from the start
