"""Crash test: a writer killed with SIGKILL never leaves a torn key or a visible temp file.

A writer subprocess rewrites many 64 KiB values in a loop, alternating between
two payload versions each round, and is killed at random moments. After each
kill, every key must hold exactly its old or its new payload and ``keys()`` /
``listdir`` must list no temporary file.
"""

from __future__ import annotations

import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import pytest

from zarrdask.storage import DirectoryStore
from zarrdask.storage.directory import is_temp_name

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

VALUE_SIZE = 64 * 1024

# Shared by the test and the writer: payload of key number i in version v.
PAYLOAD_SRC = """
def payload(i, v):
    unit = f"<{i}:{v}>".encode()
    return (unit * (VALUE_SIZE // len(unit) + 1))[:VALUE_SIZE]

def key(i, sep):
    return f"{i}{sep}0"
"""

WRITER_SRC = (
    "import sys\n"
    f"VALUE_SIZE = {VALUE_SIZE}\n"
    + PAYLOAD_SRC
    + """
from zarrdask.storage import DirectoryStore
root, n, durable, sep = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
store = DirectoryStore(root, durable=durable)
values = [[payload(i, v) for i in range(n)] for v in (0, 1)]
sys.stdout.write("ready\\n")
sys.stdout.flush()
r = 0
while True:
    r += 1
    version = values[r % 2]
    for i in range(n):
        store[key(i, sep)] = version[i]
"""
)

_ns: dict[str, object] = {"VALUE_SIZE": VALUE_SIZE}
exec(PAYLOAD_SRC, _ns)
payload = _ns["payload"]
key = _ns["key"]

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _writer_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


def _start_then_kill(args: list[str], delay: float, env: dict[str, str]) -> int:
    """Start ``python -c *args``, wait for its "ready" line and ``delay`` s, SIGKILL it.

    Returns the process's return code (``-SIGKILL`` when it was alive until killed).
    """
    proc = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline() != b"ready\n":
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"writer failed to start: {err.decode(errors='replace')}")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return proc.returncode


def _count_temp_files(root: pathlib.Path) -> int:
    return sum(1 for p in root.rglob("*") if is_temp_name(p.name))


def _kill_loop(
    root: pathlib.Path,
    *,
    kills: int,
    n_keys: int,
    durable: bool,
    sep: str,
    max_delay: float,
    seed: int,
) -> tuple[int, int]:
    """Run the kill loop; return (number of key changes seen, temp files left on disk)."""
    store = DirectoryStore(root)
    old = [payload(i, 0) for i in range(n_keys)]  # type: ignore[operator]
    new = [payload(i, 1) for i in range(n_keys)]  # type: ignore[operator]
    keys = [key(i, sep) for i in range(n_keys)]  # type: ignore[operator]
    for k, value in zip(keys, old, strict=True):
        store[k] = value
    expected_keys = sorted(keys)
    previous = [store[k] for k in keys]
    changes = 0
    rng = random.Random(seed)
    env = _writer_env()
    for attempt in range(kills):
        returncode = _start_then_kill(
            [WRITER_SRC, str(root), str(n_keys), str(int(durable)), sep],
            rng.uniform(0.0, max_delay), env)
        # The writer must have been alive (and healthy) when it was killed.
        assert returncode == -signal.SIGKILL, f"kill {attempt}: writer exited {returncode}"

        listed = sorted(store.keys())
        assert listed == expected_keys, f"kill {attempt}: keys() shows {set(listed) ^ set(keys)}"
        assert not any(is_temp_name(k.rsplit("/", 1)[-1]) for k in store)
        assert len(store) == n_keys
        top = store.listdir()
        assert not any(is_temp_name(name) for name in top)
        current = []
        for i, k in enumerate(keys):
            value = store[k]
            assert value == old[i] or value == new[i], (
                f"kill {attempt}: key {k!r} is torn ({len(value)} bytes, starts {value[:16]!r})"
            )
            current.append(value)
        changes += sum(a != b for a, b in zip(previous, current, strict=True))
        previous = current
    return changes, _count_temp_files(root)


def test_sigkill_never_tears_keys(tmp_path: pathlib.Path) -> None:
    changes, _ = _kill_loop(
        tmp_path / "store", kills=20, n_keys=200, durable=False, sep=".", max_delay=0.12, seed=1
    )
    assert changes > 0, "the writer never changed a key: the test proves nothing"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("durable", "sep", "kills"),
    [(False, ".", 100), (False, "/", 60), (True, ".", 30)],
    ids=["flat", "nested", "durable"],
)
def test_sigkill_never_tears_keys_long(
    tmp_path: pathlib.Path, durable: bool, sep: str, kills: int
) -> None:
    changes, leftovers = _kill_loop(
        tmp_path / "store",
        kills=kills,
        n_keys=200,
        durable=durable,
        sep=sep,
        max_delay=0.3 if durable else 0.12,
        seed=kills,
    )
    assert changes > 0
    # Kills landed mid-write (temp files left behind) and still nothing showed in keys().
    assert leftovers > 0


ARRAY_WRITER_SRC = """
import sys
import numpy as np
import zarrdask
root = sys.argv[1]
z = zarrdask.open_array(root, mode="r+")
versions = [np.full(z.shape, v, dtype=z.dtype) + np.arange(z.shape[1], dtype=z.dtype)
            for v in (1000, 2000)]
sys.stdout.write("ready\\n")
sys.stdout.flush()
r = 0
while True:
    r += 1
    z[...] = versions[r % 2]
"""


def test_sigkill_array_chunks_are_old_or_new(tmp_path: pathlib.Path) -> None:
    """Kill an Array writer mid-write: every chunk decodes to one whole version."""
    import numpy as np

    import zarrdask

    root = tmp_path / "a.zarr"
    z = zarrdask.open_array(str(root), mode="w", shape=(400, 400), chunks=(50, 50), dtype="i4")
    base = np.arange(400, dtype="i4")
    z[...] = 1000 + base
    rng = random.Random(3)
    mixed_seen = False
    for attempt in range(15):
        returncode = _start_then_kill([ARRAY_WRITER_SRC, str(root)], rng.uniform(0.0, 0.3),
                                      _writer_env())
        assert returncode == -signal.SIGKILL, f"kill {attempt}: writer exited {returncode}"
        z = zarrdask.open_array(str(root), mode="r")
        assert z.nchunks_initialized == z.nchunks == 64, f"kill {attempt}"
        assert _count_temp_files(root) == 0 or all(
            not is_temp_name(k) for k in z.store)
        data = z[...]
        versions = set()
        for i in range(8):
            for j in range(8):
                block = data[i * 50:(i + 1) * 50, j * 50:(j + 1) * 50] - base[j * 50:(j + 1) * 50]
                values = np.unique(block)
                assert len(values) == 1 and values[0] in (1000, 2000), (
                    f"kill {attempt}: chunk {i}.{j} is torn: {values[:5]}")
                versions.add(int(values[0]))
        mixed_seen |= len(versions) == 2
    assert mixed_seen, "no kill landed mid-write: the test proves nothing"
