"""The embedded S3's index: buckets, and each object's blob (content-addressed file), size, ETag
and metadata. Object bytes live in files under the data directory, not here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable


def buckets(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT name, region FROM s3_buckets").fetchall()


def objects(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT bucket, key, blob, size, etag, metadata FROM s3_objects ORDER BY bucket, key"
    ).fetchall()


def object_row(conn: sqlite3.Connection, bucket: str, key: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT bucket, key, blob, size, etag, metadata FROM s3_objects "
        "WHERE bucket = ? AND key = ?",
        (bucket, key),
    ).fetchone()


def keys(conn: sqlite3.Connection, bucket: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT key FROM s3_objects WHERE bucket = ?", (bucket,))]


def put_bucket(tx: sqlite3.Connection, name: str, region: str, created_ms: int) -> None:
    tx.execute(
        "INSERT OR IGNORE INTO s3_buckets (name, region, created_ms) VALUES (?, ?, ?)",
        (name, region, created_ms),
    )


def delete_bucket(tx: sqlite3.Connection, name: str) -> list[str]:
    """Forget a bucket and its objects; return the blobs no object uses any more."""
    blobs = {r[0] for r in tx.execute("SELECT blob FROM s3_objects WHERE bucket = ?", (name,))}
    tx.execute("DELETE FROM s3_objects WHERE bucket = ?", (name,))
    tx.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
    return unused(tx, blobs)


def put_object(
    tx: sqlite3.Connection,
    bucket: str,
    key: str,
    blob: str,
    size: int,
    etag: str,
    metadata: dict[str, str],
) -> list[str]:
    """Record an object's current bytes; return the blobs no object uses any more."""
    old = object_row(tx, bucket, key)
    tx.execute(
        "INSERT INTO s3_objects (bucket, key, blob, size, etag, metadata) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET "
        "blob = excluded.blob, size = excluded.size, etag = excluded.etag, "
        "metadata = excluded.metadata",
        (bucket, key, blob, size, etag, json.dumps(metadata)),
    )
    return unused(tx, {old["blob"]} if old else set())


def delete_objects(tx: sqlite3.Connection, bucket: str, names: Iterable[str]) -> list[str]:
    """Forget objects; return the blobs no object uses any more."""
    names = list(names)
    blobs = set()
    for name in names:
        row = object_row(tx, bucket, name)
        if row is not None:
            blobs.add(row["blob"])
    tx.executemany(
        "DELETE FROM s3_objects WHERE bucket = ? AND key = ?", [(bucket, name) for name in names]
    )
    return unused(tx, blobs)


def unused(tx: sqlite3.Connection, blobs: Iterable[str]) -> list[str]:
    return [
        b
        for b in blobs
        if tx.execute("SELECT 1 FROM s3_objects WHERE blob = ? LIMIT 1", (b,)).fetchone() is None
    ]


def used_blobs(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT DISTINCT blob FROM s3_objects")}
