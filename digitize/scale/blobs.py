"""Blob stores: content-addressed, write-once files on a local (or shared) folder or S3.

Both keep a blob under `ab/<sha256><suffix>` (the layout of store.write_blob), so a
repository folder copied into a bucket key for key is the same store.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Protocol

from digitize.errors import ConfigError, StorageError
from digitize.store import blob_path, sha256_file, write_blob

__all__ = ["BlobStore", "LocalBlobStore", "S3BlobStore", "open_blob_store"]

log = logging.getLogger(__name__)

_BLOB_NAME = re.compile(r"^([0-9a-f]{64})(\.[a-z.]+)$")
_CHUNK = 1 << 20


class BlobStore(Protocol):
    """Where originals, unsigned and signed PDFs live, named by their SHA-256."""

    def put(self, data: bytes | Path, suffix: str) -> str:
        """Store bytes (or a file's bytes) once; return their SHA-256."""

    def get(self, sha256: str, suffix: str) -> bytes:
        """The blob's bytes, checked against its hash."""

    def fetch(self, sha256: str, suffix: str, target: Path) -> None:
        """Copy the blob to `target` in chunks, checked against its hash."""

    def exists(self, sha256: str, suffix: str) -> bool:
        """True when the blob is stored."""

    def iter_blobs(self) -> Iterator[tuple[str, str]]:
        """Every stored blob as (sha256, suffix)."""


def _checked(data: bytes, sha256: str) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise _corrupt(sha256)
    return data


def _corrupt(sha256: str) -> StorageError:
    return StorageError(
        f"blob {sha256[:12]} does not match its hash", code="store.corrupt"
    )


def _write_checked(chunks: Iterable[bytes], sha256: str, target: Path) -> None:
    """Write `chunks` to `target`; remove it and raise when the hash differs."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        target.unlink(missing_ok=True)
        raise _corrupt(sha256)


def _missing(sha256: str, suffix: str) -> StorageError:
    return StorageError(f"blob {sha256[:12]}{suffix} is missing", code="store.missing")


def _unreachable(err: Exception) -> StorageError:
    return StorageError(f"cannot reach the S3 store: {err}", code="store.unreachable")


class LocalBlobStore:
    """A repository folder: local disk, or an NFS/SMB mount shared by every node."""

    def __init__(self, root: Path) -> None:  # noqa: D107 - the repository folder
        self.root = root

    def put(self, data: bytes | Path, suffix: str) -> str:  # noqa: D102 - protocol
        return write_blob(self.root, data, suffix)

    def get(self, sha256: str, suffix: str) -> bytes:  # noqa: D102 - protocol
        try:
            return _checked(blob_path(self.root, sha256, suffix).read_bytes(), sha256)
        except FileNotFoundError as err:
            raise _missing(sha256, suffix) from err

    def fetch(self, sha256: str, suffix: str, target: Path) -> None:  # noqa: D102
        try:
            with blob_path(self.root, sha256, suffix).open("rb") as source:
                chunks = iter(lambda: source.read(_CHUNK), b"")
                _write_checked(chunks, sha256, target)
        except FileNotFoundError as err:
            raise _missing(sha256, suffix) from err

    def exists(self, sha256: str, suffix: str) -> bool:  # noqa: D102 - protocol
        return blob_path(self.root, sha256, suffix).is_file()

    def iter_blobs(self) -> Iterator[tuple[str, str]]:  # noqa: D102 - protocol
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and len(folder.name) == 2:
                for path in sorted(folder.iterdir()):
                    match = _BLOB_NAME.match(path.name)
                    if match:
                        yield match.group(1), match.group(2)


class S3BlobStore:
    """An S3 bucket (SeaweedFS, Ceph RGW, AWS): write-once puts, SHA-256 in metadata."""

    def __init__(self, client: Any, bucket: str) -> None:  # noqa: D107 - boto3 client
        self.client = client
        self.bucket = bucket

    @staticmethod
    def key(sha256: str, suffix: str) -> str:
        """Object key of a blob: the repository folder's layout."""
        return f"{sha256[:2]}/{sha256}{suffix}"

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put(self, data: bytes | Path, suffix: str) -> str:  # noqa: D102 - protocol
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(data, Path):
            sha = sha256_file(data)
        else:
            sha = hashlib.sha256(data).hexdigest()
        try:
            # A file is sent from disk (botocore reads it in chunks), never whole.
            opened = data.open("rb") if isinstance(data, Path) else nullcontext(data)
            with opened as body:
                # If-None-Match: * makes the put write-once: a second writer of the
                # same blob gets PreconditionFailed and the first copy stays.
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key(sha, suffix),
                    Body=body,
                    IfNoneMatch="*",
                    Metadata={"sha256": sha},
                )
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code not in ("PreconditionFailed", "412"):
                raise StorageError(f"cannot store blob {sha[:12]}: {code}") from err
        except BotoCoreError as err:
            raise _unreachable(err) from err
        return sha

    def get(self, sha256: str, suffix: str) -> bytes:  # noqa: D102 - protocol
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_object(
                Bucket=self.bucket, Key=self.key(sha256, suffix)
            )
            return _checked(reply["Body"].read(), sha256)
        except ClientError as err:
            raise _missing(sha256, suffix) from err
        except BotoCoreError as err:
            raise _unreachable(err) from err

    def fetch(self, sha256: str, suffix: str, target: Path) -> None:  # noqa: D102
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_object(
                Bucket=self.bucket, Key=self.key(sha256, suffix)
            )
            _write_checked(reply["Body"].iter_chunks(_CHUNK), sha256, target)
        except ClientError as err:
            raise _missing(sha256, suffix) from err
        except BotoCoreError as err:
            raise _unreachable(err) from err

    def exists(self, sha256: str, suffix: str) -> bool:  # noqa: D102 - protocol
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256, suffix))
        except ClientError:
            return False
        return True

    def iter_blobs(self) -> Iterator[tuple[str, str]]:  # noqa: D102 - protocol
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket
        )
        for page in pages:
            for item in page.get("Contents", []):
                match = _BLOB_NAME.match(item["Key"].rsplit("/", 1)[-1])
                if match:
                    yield match.group(1), match.group(2)


def open_blob_store(settings: Any) -> BlobStore:
    """The blob store the settings name: the repository folder, or an S3 bucket.

    Raises:
        ConfigError: scale_blob_store is neither local nor s3.
    """
    if settings.scale_blob_store == "local":
        return LocalBlobStore(settings.repository)
    if settings.scale_blob_store != "s3":
        raise ConfigError(
            f"scale_blob_store is {settings.scale_blob_store!r}; use local or s3"
        )
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=settings.scale_s3_endpoint or None,
        region_name=settings.scale_s3_region,
        aws_access_key_id=os.environ.get(settings.scale_s3_key_env),
        aws_secret_access_key=os.environ.get(settings.scale_s3_secret_env),
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )
    store = S3BlobStore(client, settings.scale_s3_bucket)
    store.ensure_bucket()
    return store
