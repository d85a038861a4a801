"""``MongoDBStore``: one MongoDB document ``{"key": key, "value": bytes}`` per key.

The collection gets a unique index on ``key`` when the store is opened for
writing. Batched reads use one ``find`` with ``$in`` per 1000 keys, batched
writes one unordered ``bulk_write`` of upserts; prefix operations use an exact
string range on ``key`` (``"a/" <= key < "a0"``), never a pattern. A value that
would not fit a MongoDB document (16 MiB) is refused before anything is sent,
with the key, its size and the limit in the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from zarrdask.keys import normalize_storage_path, prefix_of, validate_key
from zarrdask.storage._base import BaseStore, check_dimension_separator, ensure_bytes

__all__ = ["MAX_DOCUMENT_BYTES", "MongoDBStore"]

#: MongoDB's document size limit (BSON), the same on every server.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
_BATCH = 1000
# BSON framing around the value: document header, field names, the key string, _id.
_DOC_OVERHEAD = 64


def _range(prefix: str) -> dict[str, str]:
    """A query matching exactly the keys starting with ``prefix`` (non-empty).

    Examples
    --------
    >>> _range("a/")
    {'$gte': 'a/', '$lt': 'a0'}
    """
    return {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}


class MongoDBStore(BaseStore):
    """A store in a MongoDB collection.

    Parameters
    ----------
    database : str, optional
        Database name (``"mongodb_zarr"`` by default).
    collection : str, optional
        Collection name (``"zarr_collection"`` by default).
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.
    read_only : bool, optional
        Refuse every write and delete (and create no index).
    **kwargs
        Passed to :class:`pymongo.MongoClient` (``host``, ``port``,
        ``directConnection``, ``serverSelectionTimeoutMS``...).

    Raises
    ------
    ValueError
        On writing a value larger than a MongoDB document can hold.

    Notes
    -----
    The store pickles by its arguments (a new client on unpickling). Keys are
    stored as UTF-8 strings, as every store does.

    Examples
    --------
    >>> store = MongoDBStore(host="127.0.0.1", port=27017)  # doctest: +SKIP
    >>> store["foo/0.0"] = b"abc"  # doctest: +SKIP
    """

    _key = "key"
    _value = "value"

    def __init__(
        self,
        database: str = "mongodb_zarr",
        collection: str = "zarr_collection",
        dimension_separator: str | None = None,
        *,
        read_only: bool = False,
        **kwargs: Any,
    ) -> None:
        import pymongo

        check_dimension_separator(dimension_separator)
        self._database = database
        self._collection = collection
        self._dimension_separator = dimension_separator
        self.read_only = bool(read_only)
        self._kwargs = kwargs
        self.client: Any = pymongo.MongoClient(**kwargs)
        self.db = self.client.get_database(database)
        self.collection = self.db.get_collection(collection)
        if not self.read_only:
            self.collection.create_index(self._key, unique=True)

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        return (self._database, self._collection, self._dimension_separator, self.read_only,
                self._kwargs)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        database, collection, separator, read_only, kwargs = state
        MongoDBStore.__init__(self, database, collection, separator, read_only=read_only,
                              **kwargs)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, MongoDBStore) and other._database == self._database
                and other._collection == self._collection and other._kwargs == self._kwargs)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MongoDBStore(database={self._database!r}, collection={self._collection!r})"

    def close(self) -> None:
        """Close the client."""
        self.client.close()

    # -- helpers -----------------------------------------------------------------------

    def _document(self, key: str, value: Any) -> dict[str, Any]:
        """Validate and build the document for ``key``; refuse values over the limit."""
        data = ensure_bytes(value)
        size = len(data) + len(key.encode("utf-8")) + _DOC_OVERHEAD
        if size > MAX_DOCUMENT_BYTES:
            raise ValueError(
                f"MongoDBStore cannot store key {key!r}: its value is {len(data)} bytes and "
                f"a MongoDB document holds at most {MAX_DOCUMENT_BYTES} bytes (16 MiB) "
                "including the key; use smaller chunks"
            )
        return {self._key: key, self._value: data}

    def _keys_in(self, prefix: str) -> Iterator[str]:
        query = {self._key: _range(prefix)} if prefix else {}
        for doc in self.collection.find(query, {self._key: 1, "_id": 0}):
            yield doc[self._key]

    # -- mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        doc = self.collection.find_one({self._key: validate_key(key)},
                                       {self._value: 1, "_id": 0})
        if doc is None:
            raise KeyError(key)
        return bytes(doc[self._value])

    def __setitem__(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        doc = self._document(validate_key(key), value)
        self.collection.replace_one({self._key: key}, doc, upsert=True)

    def __delitem__(self, key: str) -> None:
        self._check_writable(key)
        result = self.collection.delete_one({self._key: validate_key(key)})
        if result.deleted_count == 0:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self.collection.find_one({self._key: key}, {"_id": 1}) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys_in("")))

    def __len__(self) -> int:
        return int(self.collection.count_documents({}))

    def keys(self) -> Any:
        """Return the store's keys (one query)."""
        return list(self._keys_in(""))

    def clear(self) -> None:
        """Remove every key."""
        self._check_writable("")
        self.collection.delete_many({})

    # -- batched I/O -------------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys, 1000 per query; missing keys are left out."""
        keys = list(keys)
        out: dict[str, bytes] = {}
        for start in range(0, len(keys), _BATCH):
            batch = keys[start:start + _BATCH]
            query = {self._key: {"$in": batch}}
            for doc in self.collection.find(query, {self._key: 1, self._value: 1, "_id": 0}):
                out[doc[self._key]] = bytes(doc[self._value])
        return {k: out[k] for k in keys if k in out}

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys in one unordered bulk write (every value is checked first)."""
        from pymongo import ReplaceOne

        ops = []
        for key, value in items.items():
            self._check_writable(key)
            ops.append(ReplaceOne({self._key: key}, self._document(validate_key(key), value),
                                  upsert=True))
        for start in range(0, len(ops), _BATCH):
            self.collection.bulk_write(ops[start:start + _BATCH], ordered=False)

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys, 1000 per request; missing keys are ignored."""
        keys = list(keys)
        for key in keys:
            self._check_writable(key)
            validate_key(key)
        for start in range(0, len(keys), _BATCH):
            self.collection.delete_many({self._key: {"$in": keys[start:start + _BATCH]}})

    # -- hierarchy ---------------------------------------------------------------------

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted child names one level under ``path`` (an exact range query)."""
        prefix = prefix_of(normalize_storage_path(path))
        n = len(prefix)
        return sorted({k[n:].split("/", 1)[0] for k in self._keys_in(prefix) if len(k) > n})

    def rmdir(self, path: str | None = "") -> None:
        """Remove every key under ``path/`` (exact prefix; ``""``: every key)."""
        path = normalize_storage_path(path)
        self._check_writable(path)
        prefix = prefix_of(path)
        self.collection.delete_many({self._key: _range(prefix)} if prefix else {})

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the key ``path``, or the total size of the keys directly under it."""
        path = normalize_storage_path(path)
        if path:
            sizes = self._sizes({self._key: path})
            if sizes:
                return sum(sizes.values())
        prefix = prefix_of(path)
        n = len(prefix)
        query = {self._key: _range(prefix)} if prefix else {}
        return sum(s for k, s in self._sizes(query).items() if "/" not in k[n:])

    def _sizes(self, query: dict[str, Any]) -> dict[str, int]:
        """Sizes of the matching values, computed by the server (``$binarySize``)."""
        pipeline = [
            {"$match": query},
            {"$project": {"_id": 0, self._key: 1, "size": {"$binarySize": f"${self._value}"}}},
        ]
        return {doc[self._key]: int(doc["size"]) for doc in self.collection.aggregate(pipeline)}
