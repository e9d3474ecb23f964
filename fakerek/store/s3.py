"""The embedded S3's index: buckets (with their versioning state), and every version of every
key with its blob (a content-addressed file), size, ETag, metadata, tags and modification time.
Object bytes live in the blob files, not here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from fakerek.store.db import Conn, Tx


class VersionRow(NamedTuple):
    version_id: str
    deleted: bool
    blob: str | None
    size: int | None
    etag: str | None
    metadata: dict[str, str] | None
    tags: dict[str, str]
    modified_ms: int


class StoredBucket(NamedTuple):
    name: str
    region: str
    versioning: str | None  # Enabled, Suspended, or None: never enabled
    owner: str | None  # the account that created it; None: the server's default account


class StoredKey(NamedTuple):
    bucket: str
    key: str
    versions: list[VersionRow]  # oldest first
    unreadable: bool = False  # a row of this key could not be decoded (its versions are left out)


def buckets(conn: Conn) -> list[StoredBucket]:
    """Every bucket: name, region, versioning, owner (None: the server's default account)."""
    rows = conn.execute("SELECT name, region, versioning, owner FROM s3_buckets")
    return [StoredBucket(*row) for row in rows]


def _version(row: sqlite3.Row) -> VersionRow:
    return VersionRow(
        row["version_id"],
        bool(row["deleted"]),
        row["blob"],
        row["size"],
        row["etag"],
        None if row["metadata"] is None else json.loads(row["metadata"]),
        json.loads(row["tags"]),
        row["modified_ms"],
    )


def stored_keys(conn: Conn, bucket: str | None = None) -> Iterator[StoredKey]:
    """Every stored key (of one bucket, or all), with its versions, in (bucket, key) order."""
    where, args = ("WHERE bucket = ?", (bucket,)) if bucket is not None else ("", ())
    current: StoredKey | None = None
    for row in conn.execute(
        f"SELECT * FROM s3_versions {where} ORDER BY bucket, key, position", args
    ):
        if current is None or (current.bucket, current.key) != (row["bucket"], row["key"]):
            if current is not None:
                yield current
            current = StoredKey(row["bucket"], row["key"], [])
        try:
            current.versions.append(_version(row))
        except (ValueError, TypeError):
            current = current._replace(unreadable=True)
    if current is not None:
        yield current


def stored_key(conn: Conn, bucket: str, key: str) -> StoredKey | None:
    rows = conn.execute(
        "SELECT * FROM s3_versions WHERE bucket = ? AND key = ? ORDER BY position", (bucket, key)
    ).fetchall()
    return StoredKey(bucket, key, [_version(r) for r in rows]) if rows else None


def key_names(conn: Conn, bucket: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute("SELECT DISTINCT key FROM s3_versions WHERE bucket = ?", (bucket,))
    ]


def put_bucket(
    tx: Tx,
    name: str,
    region: str,
    versioning: str | None,
    created_ms: int,
    owner: str | None = None,
) -> None:
    """Record a bucket, or its versioning state; its owner is the one it was created with
    (None: the server's default account)."""
    tx.execute(
        "INSERT INTO s3_buckets (name, region, created_ms, versioning, owner) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET versioning = excluded.versioning",
        (name, region, created_ms, versioning, owner),
    )


def delete_bucket(tx: Tx, name: str) -> list[str]:
    """Forget a bucket and its keys; return the blobs no version uses any more."""
    blobs = _blobs(tx, "WHERE bucket = ?", (name,))
    tx.execute("DELETE FROM s3_versions WHERE bucket = ?", (name,))
    tx.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
    return unused(tx, blobs)


def put_key(tx: Tx, bucket: str, key: str, versions: list[VersionRow]) -> list[str]:
    """Record a key's versions (oldest first; none: the key is gone); return the blobs no
    version uses any more."""
    old = _blobs(tx, "WHERE bucket = ? AND key = ?", (bucket, key))
    tx.execute("DELETE FROM s3_versions WHERE bucket = ? AND key = ?", (bucket, key))
    tx.executemany(
        "INSERT INTO s3_versions (bucket, key, position, version_id, deleted, blob, size, etag, "
        "metadata, tags, modified_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                bucket,
                key,
                position,
                v.version_id,
                int(v.deleted),
                v.blob,
                v.size,
                v.etag,
                None if v.metadata is None else json.dumps(v.metadata),
                json.dumps(v.tags),
                v.modified_ms,
            )
            for position, v in enumerate(versions)
        ],
    )
    return unused(tx, old)


def drop_version(tx: Tx, bucket: str, key: str, position: int) -> list[str]:
    """Forget one version whose bytes are lost; return the blobs no version uses any more."""
    blobs = _blobs(tx, "WHERE bucket = ? AND key = ? AND position = ?", (bucket, key, position))
    tx.execute(
        "DELETE FROM s3_versions WHERE bucket = ? AND key = ? AND position = ?",
        (bucket, key, position),
    )
    return unused(tx, blobs)


def _blobs(tx: Tx, where: str, args: tuple[object, ...]) -> set[str]:
    query = f"SELECT blob FROM s3_versions {where} AND blob IS NOT NULL"
    return {r[0] for r in tx.execute(query, args)}


def unused(tx: Tx, blobs: Iterable[str]) -> list[str]:
    return [
        b
        for b in blobs
        if tx.execute("SELECT 1 FROM s3_versions WHERE blob = ? LIMIT 1", (b,)).fetchone() is None
    ]


def used_blobs(conn: Conn) -> set[str]:
    return {
        r[0] for r in conn.execute("SELECT DISTINCT blob FROM s3_versions WHERE blob IS NOT NULL")
    }
