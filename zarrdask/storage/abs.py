"""``ABSStore``: keys as blobs ``<prefix>/<key>`` in an Azure Blob Storage container.

Built on ``azure-storage-blob`` (v12). Each blob upload is atomic; listings are
by exact name prefix (``name_starts_with="<prefix>/<path>/"``). ``getitems`` and
``setitems`` run their requests on a small thread pool, ``delitems`` and
``rmdir`` use the blob batch API. Only a blob (or container) that does not
exist reads as a missing key; authentication and network errors propagate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from zarrdask.keys import normalize_storage_path, prefix_of, validate_key
from zarrdask.storage._base import BaseStore, check_dimension_separator, ensure_bytes

__all__ = ["ABSStore"]

#: Azurite's (the local emulator's) development account, publicly documented by Azure.
EMULATOR_ACCOUNT = "devstoreaccount1"
EMULATOR_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
EMULATOR_URL = f"http://127.0.0.1:10000/{EMULATOR_ACCOUNT}"
_WORKERS = 8
_DELETE_BATCH = 256  # the blob batch API takes at most 256 sub-requests


def _credential_state(credential: Any) -> Any:
    """A picklable form of a client's credential (shared keys become a plain dict)."""
    name = getattr(credential, "account_name", None)
    key = getattr(credential, "account_key", None)
    if name is not None and key is not None:
        return {"account_name": name, "account_key": key}
    return credential


def _build_client(container: str | None, account_name: str | None, account_key: str | None,
                  blob_service_kwargs: Mapping[str, Any] | None) -> Any:
    """Make a ContainerClient from zarr 2's ``account_name``/``account_key`` arguments."""
    from azure.storage.blob import ContainerClient

    if not container:
        raise ValueError("ABSStore needs a container name (or a ContainerClient as client=)")
    kwargs = dict(blob_service_kwargs or {})
    emulated = bool(kwargs.pop("is_emulated", False))
    account_url = kwargs.pop("account_url", None)
    if emulated:
        account_name = account_name or EMULATOR_ACCOUNT
        account_key = account_key or EMULATOR_KEY
        account_url = account_url or EMULATOR_URL
    if account_url is None:
        if not account_name:
            raise ValueError(
                "ABSStore needs client=, or account_name (with account_key), or "
                "blob_service_kwargs={'is_emulated': True} for the local emulator"
            )
        account_url = f"https://{account_name}.blob.core.windows.net"
    credential: Any = None
    if account_key is not None:
        credential = {"account_name": account_name, "account_key": account_key}
    return ContainerClient(account_url, container, credential=credential, **kwargs)


class ABSStore(BaseStore):
    """A store in an Azure Blob Storage container.

    Parameters
    ----------
    container : str, optional
        Container name (ignored when ``client`` is given).
    prefix : str, optional
        Path inside the container under which keys are stored.
    account_name, account_key : str, optional
        Storage account and its key (used when ``client`` is not given).
    blob_service_kwargs : dict, optional
        Passed to :class:`azure.storage.blob.ContainerClient`; ``account_url``
        sets the endpoint, and ``is_emulated=True`` selects the local emulator
        (Azurite) with its development account, at ``account_url`` if given,
        else ``http://127.0.0.1:10000/devstoreaccount1``.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.
    client : azure.storage.blob.ContainerClient, optional
        A ready client for the container.
    read_only : bool, optional
        Refuse every write and delete.

    Notes
    -----
    The container is created on the first write if it does not exist. Keys are
    stored as UTF-8 blob names. The store pickles by the container URL and
    credential.

    Examples
    --------
    >>> from azure.storage.blob import ContainerClient  # doctest: +SKIP
    >>> client = ContainerClient.from_connection_string(conn_str, "data")  # doctest: +SKIP
    >>> store = ABSStore(client=client, prefix="zarr-testing")  # doctest: +SKIP
    """

    def __init__(
        self,
        container: str | None = None,
        prefix: str = "",
        account_name: str | None = None,
        account_key: str | None = None,
        blob_service_kwargs: Mapping[str, Any] | None = None,
        dimension_separator: str | None = None,
        client: Any = None,
        *,
        read_only: bool = False,
    ) -> None:
        check_dimension_separator(dimension_separator)
        if client is None:
            client = _build_client(container, account_name, account_key, blob_service_kwargs)
        self.client = client
        self.container = client.container_name
        self.prefix = normalize_storage_path(prefix)
        self._dimension_separator = dimension_separator
        self.read_only = bool(read_only)
        self._head = prefix_of(self.prefix)

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.client.url, _credential_state(self.client.credential), self.prefix,
                self._dimension_separator, self.read_only)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        from azure.storage.blob import ContainerClient

        url, credential, prefix, separator, read_only = state
        client = ContainerClient.from_container_url(url, credential=credential)
        ABSStore.__init__(self, prefix=prefix, dimension_separator=separator, client=client,
                          read_only=read_only)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ABSStore) and other.client.url == self.client.url
                and other.prefix == self.prefix)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ABSStore(container={self.container!r}, prefix={self.prefix!r})"

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    # -- names -------------------------------------------------------------------------

    def _blob(self, key: str) -> str:
        return self._head + validate_key(key)

    def _names(self, path_prefix: str) -> Iterator[tuple[str, int]]:
        """Yield ``(key, size)`` of this store's blobs whose key starts with ``path_prefix``."""
        from azure.core.exceptions import ResourceNotFoundError

        start = self._head + path_prefix
        n = len(self._head)
        try:
            for blob in self.client.list_blobs(name_starts_with=start or None):
                yield blob.name[n:], int(blob.size or 0)
        except ResourceNotFoundError:  # no container yet: an empty store
            return

    # -- mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return bytes(self.client.download_blob(self._blob(key)).readall())
        except ResourceNotFoundError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        self._upload(self._blob(key), ensure_bytes(value))

    def _upload(self, name: str, data: bytes) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.client.upload_blob(name, data, overwrite=True)
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) != "ContainerNotFound":
                raise
            self._create_container()
            self.client.upload_blob(name, data, overwrite=True)

    def _create_container(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        try:
            self.client.create_container()
        except ResourceExistsError:  # made meanwhile by another writer
            pass

    def __delitem__(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        self._check_writable(key)
        try:
            self.client.delete_blob(self._blob(key))
        except ResourceNotFoundError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return bool(self.client.get_blob_client(self._blob(key)).exists())

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, _ in self._names("")])

    def __len__(self) -> int:
        return sum(1 for _ in self._names(""))

    def keys(self) -> Any:
        """Return the store's keys (one listing)."""
        return [k for k, _ in self._names("")]

    def clear(self) -> None:
        """Remove every key of this store (blobs outside the prefix are kept)."""
        self.rmdir("")

    # -- batched I/O -------------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Download several keys concurrently; missing keys are left out."""
        keys = list(keys)
        if len(keys) <= 1:
            return super().getitems(keys)

        def fetch(key: str) -> bytes | None:
            try:
                return self[key]
            except KeyError:
                return None

        with ThreadPoolExecutor(min(_WORKERS, len(keys))) as pool:
            values = list(pool.map(fetch, keys))
        return {k: v for k, v in zip(keys, values, strict=True) if v is not None}

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Upload several keys concurrently (each blob upload is atomic)."""
        pairs = [(self._blob(k), ensure_bytes(v)) for k, v in items.items()]
        for key in items:
            self._check_writable(key)
        if len(pairs) <= 1:
            for name, data in pairs:
                self._upload(name, data)
            return
        with ThreadPoolExecutor(min(_WORKERS, len(pairs))) as pool:
            list(pool.map(lambda pair: self._upload(*pair), pairs))

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys with the blob batch API; missing keys are ignored."""
        names = []
        for key in keys:
            self._check_writable(key)
            names.append(self._blob(key))
        self._delete_names(names)

    def _delete_names(self, names: Sequence[str]) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        for start in range(0, len(names), _DELETE_BATCH):
            batch = names[start:start + _DELETE_BATCH]
            try:
                responses = list(self.client.delete_blobs(*batch, raise_on_any_failure=False))
            except ResourceNotFoundError:  # no container: nothing to delete
                return
            for name, response in zip(batch, responses, strict=True):
                if response.status_code not in (200, 202, 404):
                    raise HttpResponseError(
                        message=f"ABSStore could not delete blob {name!r} in container "
                        f"{self.container!r}: HTTP {response.status_code}",
                        response=response,
                    )

    # -- hierarchy ---------------------------------------------------------------------

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted child names one level under ``path`` (one delimited listing)."""
        from azure.core.exceptions import ResourceNotFoundError

        start = self._head + prefix_of(normalize_storage_path(path))
        n = len(start)
        names: set[str] = set()
        try:
            for item in self.client.walk_blobs(name_starts_with=start or None, delimiter="/"):
                child = item.name[n:].rstrip("/")
                if child:
                    names.add(child)
        except ResourceNotFoundError:
            return []
        return sorted(names)

    def rmdir(self, path: str | None = "") -> None:
        """Remove every key under ``path/`` (exact prefix; ``""``: every key of the store)."""
        path = normalize_storage_path(path)
        self._check_writable(path)
        self._delete_names([self._head + k for k, _ in self._names(prefix_of(path))])

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the key ``path``, or the total size of the keys directly under it."""
        path = normalize_storage_path(path)
        prefix = prefix_of(path)
        n = len(prefix)
        total = 0
        for key, size in self._names(path):
            if key == path:
                return size
            if key.startswith(prefix) and "/" not in key[n:]:
                total += size
        return total
