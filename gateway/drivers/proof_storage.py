"""Where proof-of-delivery images are kept: a local directory (default) or S3-compatible storage.

Both are async context managers with the same three calls, so the gateway opens one at start-up
(`cleanup_ctx`) and never cares which it has. Keys are relative paths of safe segments
(`tenant/shipment/photo.jpg`), checked the same way by both, so a key means the same object
everywhere and can never climb out of the directory. Serving blobs to customers goes through
the gateway's own signed route: no presigned URLs here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Protocol, Self

from botocore.exceptions import BotoCoreError, ClientError

from gateway.platform.settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

MAX_KEY_CHARS: Final = 512
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_KEY: Final = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_META_DIR: Final = ".content-types"  # starts with a dot: no key segment can name it


class InvalidKey(ValueError):
    """A key that is not a relative path of safe segments (no `..`, no leading `/`)."""


class ProofNotFound(LookupError):
    """No object under that key."""


class StorageUnavailable(RuntimeError):
    """The store could not be reached or refused the request: worth retrying later."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    data: bytes
    content_type: str


class ProofStorage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store (or replace) the object. Raises InvalidKey or StorageUnavailable."""

    async def get(self, key: str) -> StoredObject:
        """Raises InvalidKey, ProofNotFound or StorageUnavailable."""

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is fine. Raises InvalidKey or StorageUnavailable."""


def check_key(key: str) -> str:
    """The key itself when it is safe; raises InvalidKey otherwise."""
    if len(key) > MAX_KEY_CHARS or not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise InvalidKey("a key is a relative path of letters, digits, '.', '_' and '-'")
    return key


class LocalProofStorage:
    """Files under one root directory; blocking file I/O runs in a worker thread.

    Each write goes to a temporary file renamed into place, so a reader never sees half an
    image; the content type is kept beside it under `.content-types/`.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root).resolve()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        with _unavailable_on_os_error():
            await asyncio.to_thread(self._put, check_key(key), data, content_type)

    async def get(self, key: str) -> StoredObject:
        with _unavailable_on_os_error():
            return await asyncio.to_thread(self._get, check_key(key))

    async def delete(self, key: str) -> None:
        with _unavailable_on_os_error():
            await asyncio.to_thread(self._delete, check_key(key))

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        blob, meta = self._paths(key)
        self._write(meta, content_type.encode())
        self._write(blob, data)

    def _get(self, key: str) -> StoredObject:
        blob, meta = self._paths(key)
        try:
            return StoredObject(blob.read_bytes(), meta.read_text())
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ProofNotFound(key) from exc

    def _delete(self, key: str) -> None:
        for path in self._paths(key):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                path.unlink()

    def _paths(self, key: str) -> tuple[Path, Path]:
        """The blob's and its content type's paths (file system calls: in the worker thread)."""
        blob = (self._root / key).resolve()
        if not blob.is_relative_to(self._root):  # a symlinked directory inside the root
            raise InvalidKey("a key must stay inside the storage directory")
        return blob, self._root / _META_DIR / key

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


class S3ProofStorage:
    """One bucket of an S3-compatible store (AWS S3, MinIO, Ceph, R2...) through aiobotocore.

    Configured by its constructor; the caller reads settings. One client is opened on entry and
    reused for every call.
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",  # every key lives under it (a shared bucket)
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        path_style: bool = False,  # MinIO and most self-hosted stores want path-style URLs
        timeout_s: float = 30.0,
        max_attempts: int = 3,  # botocore's own retries (standard mode: throttling, 5xx, resets)
    ) -> None:
        self._bucket = bucket
        self._prefix = f"{check_key(prefix.strip('/'))}/" if prefix.strip("/") else ""
        self._endpoint_url = endpoint_url
        self._region = region
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        # aiobotocore costs most of a second of CPU to import: only gateways that use S3 pay it.
        from aiobotocore.config import AioConfig

        self._config = AioConfig(
            s3={"addressing_style": "path" if path_style else "auto"},
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"max_attempts": max_attempts, "mode": "standard"},
        )
        self._exit = contextlib.AsyncExitStack()
        self._client: S3Client | None = None

    def __repr__(self) -> str:  # never the keys
        return f"S3ProofStorage(bucket={self._bucket!r})"

    async def __aenter__(self) -> Self:
        from aiobotocore.session import get_session

        client = get_session().create_client(
            "s3",
            endpoint_url=self._endpoint_url,
            region_name=self._region,
            aws_access_key_id=self._access_key_id,
            aws_secret_access_key=self._secret_access_key,
            config=self._config,
        )
        self._client = await self._exit.enter_async_context(client)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._client = None
        await self._exit.aclose()

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        client = self._open_client()
        with _unavailable_on_error():
            await client.put_object(
                Bucket=self._bucket, Key=self._key(key), Body=data, ContentType=content_type
            )

    async def get(self, key: str) -> StoredObject:
        client = self._open_client()
        with _unavailable_on_error(missing_key=key):
            answer = await client.get_object(Bucket=self._bucket, Key=self._key(key))
            async with answer["Body"] as body:
                data = await body.read()
        return StoredObject(data, answer.get("ContentType", "application/octet-stream"))

    async def delete(self, key: str) -> None:
        client = self._open_client()
        with _unavailable_on_error():
            await client.delete_object(Bucket=self._bucket, Key=self._key(key))

    def _key(self, key: str) -> str:
        return self._prefix + check_key(key)

    def _open_client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("use S3ProofStorage as `async with S3ProofStorage(...)`")
        return self._client


@contextlib.contextmanager
def _unavailable_on_os_error() -> Iterator[None]:
    """A full disk, a permission or a file where a directory should be: not the caller's bug."""
    try:
        yield
    except OSError as exc:
        raise StorageUnavailable(f"proof storage directory: {exc.strerror}") from exc


@contextlib.contextmanager
def _unavailable_on_error(missing_key: str | None = None) -> Iterator[None]:
    """botocore's errors as ours: NoSuchKey as ProofNotFound, anything else as unavailable."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if missing_key is not None and code in ("NoSuchKey", "404"):
            raise ProofNotFound(missing_key) from exc
        raise StorageUnavailable(f"object storage refused the request: {code}") from exc
    except (BotoCoreError, OSError, TimeoutError) as exc:
        raise StorageUnavailable("object storage unreachable") from exc


def storage_from_settings(settings: Settings) -> LocalProofStorage | S3ProofStorage:
    """The storage `LASTMILE_PROOF_STORAGE` names: a directory, or `s3://bucket[/prefix]` with
    `LASTMILE_S3_ENDPOINT_URL`, `LASTMILE_S3_PATH_STYLE` and the AWS_* variables."""
    if not settings.proof_storage.startswith("s3://"):
        return LocalProofStorage(settings.proof_storage)
    bucket, _, prefix = settings.proof_storage.removeprefix("s3://").partition("/")
    secret = settings.aws_secret_access_key
    return S3ProofStorage(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.aws_region,
        access_key_id=settings.aws_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
        path_style=settings.s3_path_style,
    )
