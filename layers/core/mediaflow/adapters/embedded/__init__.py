"""Embedded adapters: a folder for blobs, SQLite for records, an in-process event bus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mediaflow.adapters.embedded.blobstore import FolderBlobStore
from mediaflow.adapters.embedded.bus import Event, InProcessEventBus
from mediaflow.adapters.embedded.sqlite import (
    DB_FILENAME,
    SQLiteDatabase,
    SQLiteIdempotency,
    SQLiteKeyStore,
    SQLiteRunStore,
    SQLiteWorkflowStore,
)
from mediaflow.media import InvalidKeyError, validate_key

BLOBS_DIRNAME = "blobs"
DEFAULT_BUCKET = "local"


def blob_root(data_dir: Path) -> Path:
    return Path(data_dir) / BLOBS_DIRNAME


def database_path(data_dir: Path) -> Path:
    return Path(data_dir) / DB_FILENAME


@dataclass
class EmbeddedAdapters:
    """Every embedded adapter on one data dir."""

    data_dir: Path
    db: SQLiteDatabase
    blobs: FolderBlobStore
    workflows: SQLiteWorkflowStore
    runs: SQLiteRunStore
    keys: SQLiteKeyStore
    idempotency: SQLiteIdempotency
    bus: InProcessEventBus


def open_embedded(data_dir: Path, *, bucket: str = DEFAULT_BUCKET) -> EmbeddedAdapters:
    """Build the adapters for ``data_dir`` (nothing is touched on disk until first use)."""
    db = SQLiteDatabase(database_path(data_dir))
    return EmbeddedAdapters(
        data_dir=Path(data_dir), db=db, blobs=FolderBlobStore(blob_root(data_dir), bucket),
        workflows=SQLiteWorkflowStore(db), runs=SQLiteRunStore(db), keys=SQLiteKeyStore(db),
        idempotency=SQLiteIdempotency(db), bus=InProcessEventBus(),
    )


__all__ = [
    "BLOBS_DIRNAME", "DB_FILENAME", "DEFAULT_BUCKET", "EmbeddedAdapters", "Event", "FolderBlobStore",
    "InProcessEventBus", "InvalidKeyError", "SQLiteDatabase", "SQLiteIdempotency", "SQLiteKeyStore",
    "SQLiteRunStore", "SQLiteWorkflowStore", "blob_root", "database_path", "open_embedded", "validate_key",
]
