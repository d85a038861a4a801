"""Groups on local folders read their members' metadata ahead once a lookup waits for the disk."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np
import pytest

import zarrdask
from zarrdask import readahead


class RecordingStore(zarrdask.DirectoryStore):
    """A DirectoryStore that records what it is asked to prefetch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[list[str]] = []
        self.called = threading.Event()

    def prefetch(self, keys: Any) -> None:
        self.calls.append(list(keys))
        super().prefetch(keys)
        self.called.set()


def _hierarchy(path: str) -> None:
    root = zarrdask.open_group(path, mode="w")
    for g in range(2):
        group = root.create_group(f"g{g}")
        for a in range(4):
            group.zeros(f"a{a}", shape=(4,), chunks=(2,), dtype="i4")[...] = np.arange(4) + a
    root.g0.attrs["units"] = "m"


def test_slow_lookup_prefetches_siblings_once_per_folder(tmp_path, monkeypatch) -> None:
    _hierarchy(str(tmp_path / "h"))
    monkeypatch.setattr(readahead, "PREFETCH_AFTER", -1.0)  # every lookup counts as slow
    store = RecordingStore(str(tmp_path / "h"))
    top = zarrdask.open_group(store, mode="r")
    assert np.array_equal(top["g0/a1"][...], np.arange(4) + 1)
    assert store.called.wait(10)
    assert len(store.calls) == 1
    keys = set(store.calls[0])
    assert {f"g0/a{a}/.zarray" for a in range(4)} <= keys
    assert "g0/a0/.zattrs" in keys and "g0/a0/.zgroup" in keys
    assert not any(k.startswith("g1/") for k in keys)
    for a in range(4):
        assert np.array_equal(top[f"g0/a{a}"][...], np.arange(4) + a)
    time.sleep(0.05)
    assert len(store.calls) == 1  # the folder is read ahead once
    assert top["g1/a2"].shape == (4,)
    deadline = time.monotonic() + 10
    while len(store.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any(k.startswith("g1/") for k in store.calls[1])


def test_fast_lookups_prefetch_nothing(tmp_path, monkeypatch) -> None:
    _hierarchy(str(tmp_path / "h"))
    monkeypatch.setattr(readahead, "PREFETCH_AFTER", 1e9)
    store = RecordingStore(str(tmp_path / "h"))
    top = zarrdask.open_group(store, mode="r")
    for a in range(4):
        top[f"g0/a{a}"]
    time.sleep(0.05)
    assert store.calls == []


def test_stores_without_prefetch_are_left_alone(monkeypatch) -> None:
    monkeypatch.setattr(readahead, "PREFETCH_AFTER", -1.0)
    root = zarrdask.group(zarrdask.MemoryStore())
    root.zeros("x/y", shape=3)
    assert root["x/y"].shape == (3,)
    assert not hasattr(root.store, "prefetch")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_prefetch_skips_bad_and_missing_keys_and_holds_no_files(tmp_path) -> None:
    store = zarrdask.DirectoryStore(str(tmp_path / "s"))
    store["a/.zarray"] = b"{}"
    before = len(os.listdir("/proc/self/fd"))
    store.prefetch(["a/.zarray", "missing/.zarray", "../outside", "a", ""])
    assert len(os.listdir("/proc/self/fd")) == before
    assert store["a/.zarray"] == b"{}"


def test_slow_member_listing_prefetches_for_arrays(tmp_path, monkeypatch) -> None:
    _hierarchy(str(tmp_path / "h"))
    monkeypatch.setattr(readahead, "PREFETCH_AFTER", -1.0)
    store = RecordingStore(str(tmp_path / "h"))
    g0 = zarrdask.open_group(store, mode="r")["g0"]
    arrays = dict(g0.arrays())
    assert sorted(arrays) == [f"a{a}" for a in range(4)]
    assert all(np.array_equal(arrays[f"a{a}"][...], np.arange(4) + a) for a in range(4))
    deadline = time.monotonic() + 10
    while not any("g0/a3/.zarray" in c for c in store.calls) and time.monotonic() < deadline:
        time.sleep(0.01)
    folders = [c[0].rpartition("/")[0].rpartition("/")[0] for c in store.calls]  # -> "g0"
    assert folders.count("g0") == 1  # the arrays' folder, read ahead once
