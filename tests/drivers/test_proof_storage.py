"""Proof storage: one harness, both backends (a local directory and a real S3-compatible server)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiobotocore.session import get_session

from gateway.drivers.proof_storage import (
    InvalidKey,
    LocalProofStorage,
    ProofNotFound,
    ProofStorage,
    S3ProofStorage,
    StorageUnavailable,
    StoredObject,
)

KEY_ID, SECRET = "test-key-id", "test-secret-key"
BAD_KEYS = ["", "../escape", "a/../../b", "/etc/passwd", "a//b", ".hidden", "a/./b", "a\\b",
            "x/", "sp ace", "ü", "a/" * 300 + "b"]  # fmt: skip


async def _create_bucket(endpoint: str, bucket: str) -> None:
    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    ) as client:
        await client.create_bucket(Bucket=bucket)


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ProofStorage]:
    if request.param == "local":
        async with LocalProofStorage(tmp_path / "proofs") as local:
            yield local
        return
    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket = f"proofs-{secrets.token_hex(4)}"
    await _create_bucket(endpoint, bucket)
    async with S3ProofStorage(
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        path_style=True,
    ) as s3:
        yield s3


async def test_what_is_put_comes_back_byte_for_byte_with_its_type(storage: ProofStorage) -> None:
    photo = os.urandom(2 * 1024 * 1024)
    await storage.put("t_1/shp_1/photo.jpg", photo, "image/jpeg")
    await storage.put("t_1/shp_1/signature.png", b"\x89PNG sig", "image/png")
    assert await storage.get("t_1/shp_1/photo.jpg") == StoredObject(photo, "image/jpeg")
    assert await storage.get("t_1/shp_1/signature.png") == StoredObject(b"\x89PNG sig", "image/png")


async def test_a_put_replaces_and_a_delete_removes(storage: ProofStorage) -> None:
    await storage.put("k/photo.jpg", b"first", "image/jpeg")
    await storage.put("k/photo.jpg", b"second", "image/png")
    assert await storage.get("k/photo.jpg") == StoredObject(b"second", "image/png")
    await storage.delete("k/photo.jpg")
    with pytest.raises(ProofNotFound):
        await storage.get("k/photo.jpg")
    await storage.delete("k/photo.jpg")  # deleting twice is fine


async def test_a_missing_key_is_not_found(storage: ProofStorage) -> None:
    with pytest.raises(ProofNotFound):
        await storage.get("never/put.jpg")


async def test_unsafe_keys_are_refused_by_every_call(storage: ProofStorage) -> None:
    for key in BAD_KEYS:
        with pytest.raises(InvalidKey):
            await storage.put(key, b"x", "image/jpeg")
        with pytest.raises(InvalidKey):
            await storage.get(key)
        with pytest.raises(InvalidKey):
            await storage.delete(key)


async def test_concurrent_puts_all_land(storage: ProofStorage) -> None:
    keys = [f"t/s{i}/photo.jpg" for i in range(20)]
    await asyncio.gather(*(storage.put(k, k.encode(), "image/jpeg") for k in keys))
    stored = await asyncio.gather(*(storage.get(k) for k in keys))
    assert [s.data for s in stored] == [k.encode() for k in keys]


async def test_nothing_escapes_the_local_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "proofs"
    async with LocalProofStorage(root) as local:
        (root / "link").symlink_to(outside, target_is_directory=True)
        with pytest.raises(InvalidKey):
            await local.put("link/photo.jpg", b"x", "image/jpeg")
        await local.put("a/b.jpg", b"y", "image/jpeg")
    assert _files(tmp_path) == ["proofs/.content-types/a/b.jpg", "proofs/a/b.jpg"]  # no temp


def _files(under: Path) -> list[str]:
    return sorted(p.relative_to(under).as_posix() for p in under.rglob("*") if p.is_file())


async def test_an_unreachable_store_is_unavailable_and_keeps_its_secret() -> None:
    s3 = S3ProofStorage(
        bucket="b",
        endpoint_url="http://127.0.0.1:9",  # discard: nothing listens
        region="us-east-1",
        timeout_s=1,
        max_attempts=1,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
    )
    assert SECRET not in repr(s3)
    async with s3:
        with pytest.raises(StorageUnavailable) as caught:
            await s3.put("a.jpg", b"x", "image/jpeg")
    assert SECRET not in str(caught.value)
