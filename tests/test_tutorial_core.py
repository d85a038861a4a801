"""The tutorial's examples for the core sections, run as doctests with their printed output.

Sections: "Creating an array" to "Filters", "Chunk optimizations", "Pickle support",
"Datetimes and timedeltas" and "Copying large arrays". The only differences from
the tutorial text are the class module path (``zarrdask.core.Array``), the store
type of in-memory arrays (``zarrdask.storage.MemoryStore``), and the byte counts
of compressed data, which depend on the Blosc build (matched with ``...``).
"""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import pytest

CREATING = """
>>> import zarrdask as zarr
>>> import numpy as np
>>> z = zarr.zeros((10000, 10000), chunks=(1000, 1000), dtype='i4')
>>> z
<zarrdask.core.Array (10000, 10000) int32>
>>> z[:] = 42
>>> z[0, :] = np.arange(10000)
>>> z[:, 0] = np.arange(10000)
>>> z[0, 0]
np.int32(0)
>>> z[-1, -1]
np.int32(42)
>>> z[0, :]
array([   0,    1,    2, ..., 9997, 9998, 9999], shape=(10000,), dtype=int32)
>>> z[:, 0]
array([   0,    1,    2, ..., 9997, 9998, 9999], shape=(10000,), dtype=int32)
>>> z[:]
array([[   0,    1,    2, ..., 9997, 9998, 9999],
       [   1,   42,   42, ...,   42,   42,   42],
       [   2,   42,   42, ...,   42,   42,   42],
       ...,
       [9997,   42,   42, ...,   42,   42,   42],
       [9998,   42,   42, ...,   42,   42,   42],
       [9999,   42,   42, ...,   42,   42,   42]], shape=(10000, 10000), dtype=int32)
"""

PERSISTENT = """
>>> import zarrdask as zarr
>>> import numpy as np
>>> z1 = zarr.open('data/example.zarr', mode='w', shape=(10000, 10000),
...                chunks=(1000, 1000), dtype='i4')
>>> z1[:] = 42
>>> z1[0, :] = np.arange(10000)
>>> z1[:, 0] = np.arange(10000)
>>> z2 = zarr.open('data/example.zarr', mode='r')
>>> np.all(z1[:] == z2[:])
np.True_
>>> a = np.arange(10)
>>> zarr.save('data/example.zarr', a)
>>> zarr.load('data/example.zarr')
array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
"""

RESIZING = """
>>> import zarrdask as zarr
>>> import numpy as np
>>> z = zarr.zeros(shape=(10000, 10000), chunks=(1000, 1000))
>>> z[:] = 42
>>> z.resize(20000, 10000)
>>> z.shape
(20000, 10000)
>>> a = np.arange(10000000, dtype='i4').reshape(10000, 1000)
>>> z = zarr.array(a, chunks=(1000, 100))
>>> z.shape
(10000, 1000)
>>> z.append(a)
(20000, 1000)
>>> z.append(np.vstack([a, a]), axis=1)
(20000, 2000)
>>> z.shape
(20000, 2000)
"""

COMPRESSORS = """
>>> import zarrdask as zarr
>>> import numpy as np
>>> from numcodecs import Blosc
>>> compressor = Blosc(cname='zstd', clevel=3, shuffle=Blosc.BITSHUFFLE)
>>> data = np.arange(100000000, dtype='i4').reshape(10000, 10000)
>>> z = zarr.array(data, chunks=(1000, 1000), compressor=compressor)
>>> z.compressor
Blosc(cname='zstd', clevel=3, shuffle=BITSHUFFLE, blocksize=0)
>>> z.info
Type               : zarrdask.core.Array
Data type          : int32
Shape              : (10000, 10000)
Chunk shape        : (1000, 1000)
Order              : C
Compressor         : Blosc(cname='zstd', clevel=3, shuffle=BITSHUFFLE,
                   : blocksize=0)
Store type         : zarrdask.storage.MemoryStore
No. bytes          : 400000000 (381.5M)
No. bytes stored   : ...
Storage ratio      : ...
Chunks initialized : 100/100
<BLANKLINE>
>>> from numcodecs import blosc
>>> blosc.list_compressors()
['blosclz', 'lz4', 'lz4hc', 'zlib', 'zstd']
>>> from numcodecs import Zstd
>>> z = zarr.array(np.arange(100000000, dtype='i4').reshape(10000, 10000),
...                chunks=(1000, 1000), compressor=Zstd(level=1))
>>> z.compressor
Zstd(level=1)
>>> import lzma
>>> lzma_filters = [dict(id=lzma.FILTER_DELTA, dist=4),
...                 dict(id=lzma.FILTER_LZMA2, preset=1)]
>>> from numcodecs import LZMA
>>> compressor = LZMA(filters=lzma_filters)
>>> z = zarr.array(np.arange(100000000, dtype='i4').reshape(10000, 10000),
...                chunks=(1000, 1000), compressor=compressor)
>>> z.compressor
LZMA(format=1, check=-1, preset=None, filters=[{'dist': 4, 'id': 3}, {'id': 33, 'preset': 1}])
>>> import zarrdask.storage
>>> from numcodecs import Zstd, Blosc
>>> zarrdask.storage.default_compressor = Zstd(level=1)
>>> z = zarr.zeros(100000000, chunks=1000000)
>>> z.compressor
Zstd(level=1)
>>> zarrdask.storage.default_compressor = Blosc()
>>> z = zarr.zeros(100000000, chunks=1000000, compressor=None)
>>> z.compressor is None
True
"""

FILTERS = """
>>> import zarrdask as zarr
>>> import numpy as np
>>> from numcodecs import Blosc, Delta
>>> filters = [Delta(dtype='i4')]
>>> compressor = Blosc(cname='zstd', clevel=1, shuffle=Blosc.SHUFFLE)
>>> data = np.arange(100000000, dtype='i4').reshape(10000, 10000)
>>> z = zarr.array(data, chunks=(1000, 1000), filters=filters, compressor=compressor)
>>> z.info
Type               : zarrdask.core.Array
Data type          : int32
Shape              : (10000, 10000)
Chunk shape        : (1000, 1000)
Order              : C
Filter [0]         : Delta(dtype='<i4')
Compressor         : Blosc(cname='zstd', clevel=1, shuffle=SHUFFLE, blocksize=0)
Store type         : zarrdask.storage.MemoryStore
No. bytes          : 400000000 (381.5M)
No. bytes stored   : ...
Storage ratio      : ...
Chunks initialized : 100/100
<BLANKLINE>
"""

CHUNKS = """
>>> import zarrdask as zarr
>>> import numpy as np
>>> z1 = zarr.zeros((10000, 10000), chunks=(100, None), dtype='i4')
>>> z1.chunks
(100, 10000)
>>> z2 = zarr.zeros((10000, 10000), chunks=(None, 100), dtype='i4')
>>> z2.chunks
(10000, 100)
>>> z3 = zarr.zeros((10000, 10000), chunks=(1000, 1000), dtype='i4')
>>> z3.chunks
(1000, 1000)
>>> z4 = zarr.zeros((10000, 10000), chunks=True, dtype='i4')
>>> z4.chunks
(625, 625)
>>> z5 = zarr.zeros((10000, 10000), chunks=False, dtype='i4')
>>> z5.chunks
(10000, 10000)
>>> a = np.arange(100000000, dtype='i4').reshape(10000, 10000).T
>>> c = zarr.array(a, chunks=(1000, 1000))
>>> c.info
Type               : zarrdask.core.Array
Data type          : int32
Shape              : (10000, 10000)
Chunk shape        : (1000, 1000)
Order              : C
Compressor         : Blosc(cname='lz4', clevel=5, shuffle=SHUFFLE, blocksize=0)
Store type         : zarrdask.storage.MemoryStore
No. bytes          : 400000000 (381.5M)
No. bytes stored   : ...
Storage ratio      : ...
Chunks initialized : 100/100
<BLANKLINE>
>>> f = zarr.array(a, chunks=(1000, 1000), order='F')
>>> f.info
Type               : zarrdask.core.Array
Data type          : int32
Shape              : (10000, 10000)
Chunk shape        : (1000, 1000)
Order              : F
Compressor         : Blosc(cname='lz4', clevel=5, shuffle=SHUFFLE, blocksize=0)
Store type         : zarrdask.storage.MemoryStore
No. bytes          : 400000000 (381.5M)
No. bytes stored   : ...
Storage ratio      : ...
Chunks initialized : 100/100
<BLANKLINE>
>>> f.nbytes_stored < c.nbytes_stored
True
"""

PICKLE = """
>>> import zarrdask as zarr
>>> import numpy as np
>>> import pickle
>>> z1 = zarr.array(np.arange(100000))
>>> s = pickle.dumps(z1)
>>> len(s) > 5000  # relatively large because data have been pickled
True
>>> z2 = pickle.loads(s)
>>> z1 == z2
True
>>> np.all(z1[:] == z2[:])
np.True_
>>> z3 = zarr.open('data/walnuts.zarr', mode='w', shape=100000, dtype='i8')
>>> z3[:] = np.arange(100000)
>>> s = pickle.dumps(z3)
>>> len(s) < 200  # small because no data have been pickled
True
>>> z4 = pickle.loads(s)
>>> z3 == z4
True
>>> np.all(z3[:] == z4[:])
np.True_
"""

DATETIMES = """
>>> import zarrdask as zarr
>>> z = zarr.array(['2007-07-13', '2006-01-13', '2010-08-13'], dtype='M8[D]')
>>> z
<zarrdask.core.Array (3,) datetime64[D]>
>>> z[:]
array(['2007-07-13', '2006-01-13', '2010-08-13'], dtype='datetime64[D]')
>>> z[0]
np.datetime64('2007-07-13')
>>> z[0] = '1999-12-31'
>>> z[:]
array(['1999-12-31', '2006-01-13', '2010-08-13'], dtype='datetime64[D]')
"""

COPYING = """
>>> import zarrdask as zarr
>>> import numpy as np
>>> z1 = zarr.empty((10000, 10000), chunks=(1000, 1000), dtype='i4')
>>> z1[:] = 42
>>> z2 = zarr.empty_like(z1)
>>> z2[:] = z1
>>> np.all(z2[:] == 42)
np.True_
"""

SECTIONS = {
    "creating": CREATING, "persistent": PERSISTENT, "resizing": RESIZING,
    "compressors": COMPRESSORS, "filters": FILTERS, "chunks": CHUNKS, "pickle": PICKLE,
    "datetimes": DATETIMES, "copying": COPYING,
}


@pytest.mark.parametrize("name", list(SECTIONS))
def test_tutorial_section(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    import numcodecs

    if name == "compressors" and "snappy" in numcodecs.blosc.list_compressors():
        pytest.skip("this Blosc build lists snappy; the tutorial's list is build-dependent")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(SECTIONS[name], {}, name, None, 0)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda s: print(s, end=""))
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} tutorial example(s) failed in {name!r}"
    assert os.path.isdir("data") or name not in ("persistent", "pickle")
