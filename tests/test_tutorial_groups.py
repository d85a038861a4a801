"""The tutorial's examples on groups, diagnostics, attributes, consolidated metadata and copying.

Each example runs as a doctest with ``import zarrdask as zarr`` and must print
what the zarr 2.x tutorial prints, except that class paths name ``zarrdask``.
Only the "No. bytes stored" and "Storage ratio" numbers may differ (they
depend on the Blosc build).

Trees are compared as zarr-python 2.x prints them: members are indented by
one leading space (the tutorial's rendered text lost the leading whitespace).
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import numpy as np
import pytest

import zarrdask

_TOLERANT = re.compile(r"^(No\. bytes stored   : |Storage ratio      : ).*$", re.MULTILINE)


class _Checker(doctest.OutputChecker):
    """Exact comparison, except the Blosc-dependent numbers of ``info``."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        return super().check_output(_TOLERANT.sub(r"\1<n>", want),
                                    _TOLERANT.sub(r"\1<n>", got), optionflags)


def run_doctest(text: str, name: str, **extra: object) -> None:
    """Run ``text`` as a doctest; numpy prints arrays as the tutorial shows them."""
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"zarr": zarrdask, "np": np, **extra}, name, None, 0)
    runner = doctest.DocTestRunner(checker=_Checker(), optionflags=doctest.ELLIPSIS)
    old = np.get_printoptions()
    np.set_printoptions(threshold=20, legacy="1.25")  # summarised, without "shape=(...)"
    try:
        runner.run(test, out=_Fail(name))
    finally:
        np.set_printoptions(**old)
    assert runner.failures == 0


class _Fail:
    """Collects the doctest report so that pytest shows it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, report: str) -> None:
        pytest.fail(f"tutorial example {self.name} failed:\n{report}", pytrace=False)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each example in a fresh folder holding ``data/``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()


GROUPS = """
>>> root = zarr.group()
>>> root
<zarrdask.hierarchy.Group '/'>
>>> foo = root.create_group('foo')
>>> bar = foo.create_group('bar')
>>> z1 = bar.zeros('baz', shape=(10000, 10000), chunks=(1000, 1000), dtype='i4')
>>> z1
<zarrdask.core.Array '/foo/bar/baz' (10000, 10000) int32>
>>> z = bar.create_dataset('quux', shape=(10000, 10000), chunks=(1000, 1000), dtype='i4')
>>> z
<zarrdask.core.Array '/foo/bar/quux' (10000, 10000) int32>
>>> root['foo']
<zarrdask.hierarchy.Group '/foo'>
>>> root['foo/bar']
<zarrdask.hierarchy.Group '/foo/bar'>
>>> root['foo/bar/baz']
<zarrdask.core.Array '/foo/bar/baz' (10000, 10000) int32>
>>> root.tree()
/
 └── foo
     └── bar
         ├── baz (10000, 10000) int32
         └── quux (10000, 10000) int32
>>> root = zarr.open('data/group.zarr', mode='w')
>>> root
<zarrdask.hierarchy.Group '/'>
>>> z = root.zeros('foo/bar/baz', shape=(10000, 10000), chunks=(1000, 1000), dtype='i4')
>>> z
<zarrdask.core.Array '/foo/bar/baz' (10000, 10000) int32>
>>> with zarr.open('data/group.zarr', mode='r') as g:
...     g['foo/bar/baz'].shape
(10000, 10000)
"""

DIAGNOSTICS = """
>>> root = zarr.group()
>>> foo = root.create_group('foo')
>>> bar = foo.zeros('bar', shape=1000000, chunks=100000, dtype='i8')
>>> bar[:] = 42
>>> baz = foo.zeros('baz', shape=(1000, 1000), chunks=(100, 100), dtype='f4')
>>> baz[:] = 4.2
>>> root.info
Name        : /
Type        : zarrdask.hierarchy.Group
Store type  : zarrdask.storage.MemoryStore
No. members : 1
No. arrays  : 0
No. groups  : 1
Groups      : foo
<BLANKLINE>
>>> foo.info
Name        : /foo
Type        : zarrdask.hierarchy.Group
Store type  : zarrdask.storage.MemoryStore
No. members : 2
No. arrays  : 2
No. groups  : 0
Arrays      : bar, baz
<BLANKLINE>
>>> bar.info
Name               : /foo/bar
Type               : zarrdask.core.Array
Data type          : int64
Shape              : (1000000,)
Chunk shape        : (100000,)
Order              : C
Compressor         : Blosc(cname='lz4', clevel=5, shuffle=SHUFFLE, blocksize=0)
Store type         : zarrdask.storage.MemoryStore
No. bytes          : 8000000 (7.6M)
No. bytes stored   : 33240 (32.5K)
Storage ratio      : 240.7
Chunks initialized : 10/10
<BLANKLINE>
>>> baz.info
Name               : /foo/baz
Type               : zarrdask.core.Array
Data type          : float32
Shape              : (1000, 1000)
Chunk shape        : (100, 100)
Order              : C
Compressor         : Blosc(cname='lz4', clevel=5, shuffle=SHUFFLE, blocksize=0)
Store type         : zarrdask.storage.MemoryStore
No. bytes          : 4000000 (3.8M)
No. bytes stored   : 23943 (23.4K)
Storage ratio      : 167.1
Chunks initialized : 100/100
<BLANKLINE>
>>> root.tree()
/
 └── foo
     ├── bar (1000000,) int64
     └── baz (1000, 1000) float32
"""

ATTRIBUTES = """
>>> root = zarr.group()
>>> root.attrs['foo'] = 'bar'
>>> z = root.zeros('zzz', shape=(10000, 10000))
>>> z.attrs['baz'] = 42
>>> z.attrs['qux'] = [1, 4, 7, 12]
>>> sorted(root.attrs)
['foo']
>>> 'foo' in root.attrs
True
>>> root.attrs['foo']
'bar'
>>> sorted(z.attrs)
['baz', 'qux']
>>> z.attrs['baz']
42
>>> z.attrs['qux']
[1, 4, 7, 12]
"""

CONSOLIDATED = """
>>> store = zarr.DirectoryStore('data/consolidated.zarr')
>>> g = zarr.group(store)
>>> z = g.zeros('foo/bar/baz', shape=(4,), chunks=(2,), dtype='i4')
>>> zarr.consolidate_metadata(store)
<zarrdask.hierarchy.Group '/'>
>>> root = zarr.open_consolidated(store)
>>> root['foo/bar/baz'][:] = 7
>>> root['foo/bar/baz'][:]
array([7, 7, 7, 7], dtype=int32)
>>> root.create_group('new')
Traceback (most recent call last):
...
zarrdask.errors.ReadOnlyError: group '/' was opened with open_consolidated, ...
>>> root['foo/bar/baz'].resize(10)
Traceback (most recent call last):
...
zarrdask.errors.ReadOnlyError: the metadata of array /foo/bar/baz is read-only ...
"""

COPY_H5PY = """
>>> import h5py
>>> source = h5py.File('data/example.h5', mode='w')
>>> foo = source.create_group('foo')
>>> baz = foo.create_dataset('bar/baz', data=np.arange(100), chunks=(50,))
>>> spam = source.create_dataset('spam', data=np.arange(100, 200), chunks=(30,))
>>> zarr.tree(source)
/
 ├── foo
 │   └── bar
 │       └── baz (100,) int64
 └── spam (100,) int64
>>> dest = zarr.open_group('data/example.zarr', mode='w')
>>> from sys import stdout
>>> zarr.copy(source['foo'], dest, log=stdout)
copy /foo
copy /foo/bar
copy /foo/bar/baz (100,) int64
all done: 3 copied, 0 skipped, 800 bytes copied
(3, 0, 800)
>>> dest.tree()  # N.B., no spam
/
 └── foo
     └── bar
         └── baz (100,) int64
>>> source.close()
>>> source = h5py.File('data/example.h5', mode='r')
>>> dest = zarr.open_group('data/example2.zarr', mode='w')
>>> zarr.copy_all(source, dest, log=stdout)
copy /foo
copy /foo/bar
copy /foo/bar/baz (100,) int64
copy /spam (100,) int64
all done: 4 copied, 0 skipped, 1,600 bytes copied
(4, 0, 1600)
>>> dest.tree()
/
 ├── foo
 │   └── bar
 │       └── baz (100,) int64
 └── spam (100,) int64
>>> source.close()
"""

COPY_STORE = """
>>> store1 = zarr.DirectoryStore('data/example.zarr')
>>> root = zarr.group(store1, overwrite=True)
>>> baz = root.create_dataset('foo/bar/baz', data=np.arange(100), chunks=(50,))
>>> spam = root.create_dataset('spam', data=np.arange(100, 200), chunks=(30,))
>>> root.tree()
/
 ├── foo
 │   └── bar
 │       └── baz (100,) int64
 └── spam (100,) int64
>>> from sys import stdout
>>> store2 = make_store2()
>>> zarr.copy_store(store1, store2, log=stdout)
copy .zgroup
copy foo/.zgroup
copy foo/bar/.zgroup
copy foo/bar/baz/.zarray
copy foo/bar/baz/0
copy foo/bar/baz/1
copy spam/.zarray
copy spam/0
copy spam/1
copy spam/2
copy spam/3
all done: 11 copied, 0 skipped, 1,138 bytes copied
(11, 0, 1138)
>>> new_root = zarr.group(store2)
>>> new_root.tree()
/
 ├── foo
 │   └── bar
 │       └── baz (100,) int64
 └── spam (100,) int64
>>> new_root['foo/bar/baz'][:]  # doctest: +NORMALIZE_WHITESPACE
array([ 0,  1,  2,  ..., 97, 98, 99])
>>> store2.close()  # zip stores need to be closed
"""


def test_groups() -> None:
    run_doctest(GROUPS, "Groups")


def test_diagnostics() -> None:
    run_doctest(DIAGNOSTICS, "Array and group diagnostics")


def test_user_attributes() -> None:
    run_doctest(ATTRIBUTES, "User attributes")


def test_consolidated_metadata() -> None:
    run_doctest(CONSOLIDATED, "IO with fsspec: consolidated metadata")


def test_copy_h5py() -> None:
    run_doctest(COPY_H5PY, "Copying/migrating data (h5py)")


def test_copy_store() -> None:
    # The tutorial copies into a ZipStore; use one when zarrdask has it.
    def make_store2() -> object:
        if hasattr(zarrdask, "ZipStore"):
            return zarrdask.ZipStore("data/example.zip", mode="w")
        return zarrdask.DirectoryStore("data/example_copy.zarr")

    run_doctest(COPY_STORE, "Copying/migrating data (copy_store)", make_store2=make_store2)
