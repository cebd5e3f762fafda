"""Where media bytes live, behind one small interface: put, open, delete.

`local` keeps one file per distinct content under `$AUTOPOSTR_HOME/media/`
(`<sha256[:2]>/<sha256>`), written to a temporary file and renamed into place,
so a reader never sees half a file. `database` keeps the bytes as 1 MiB rows of
`media_chunks`, in the same transaction as the media row, so a daemon on any
machine that reaches the database can publish them and a failed upload leaves
no chunk behind. Both stream: nothing ever holds a whole file in memory.

The default is `local` on SQLite and `database` on PostgreSQL;
AUTOPOSTR_MEDIA_STORAGE (`media_storage` in the config file) overrides it.
Each media row records the backend it was stored in, so changing the setting
later never loses older items.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

from autopostr.config import Settings
from autopostr.errors import ConfigError, InvalidInput, NotFound
from autopostr.secretstore import ensure_private_dir

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlmodel import Session as DbSession

CHUNK_SIZE = 1024 * 1024
BACKENDS = ("local", "database")


class MediaMissing(NotFound):
    """The stored bytes of a media item are gone."""


class Storage(ABC):
    name: ClassVar[str]

    @abstractmethod
    def put(self, stream: IO[bytes], *, media_id: int, sha256: str) -> str:
        """Store everything `stream` yields; return the key. The bytes must hash to
        `sha256` (the file changed since it was checked otherwise)."""

    @abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """A binary file-like object that reads the bytes a chunk at a time."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Forget the bytes; deleting what is already gone is no error."""


def _changed(sha256: str, digest: str) -> InvalidInput:
    return InvalidInput(
        f"the file changed while it was being stored (sha256 {digest[:12]}…, expected "
        f"{sha256[:12]}…); upload it again once it is complete"
    )


def read_full(stream: IO[bytes], size: int = CHUNK_SIZE) -> bytes:
    """Up to `size` bytes, fewer only at the end (pipes may return short reads)."""
    data = stream.read(size)
    if not data or len(data) == size:
        return data or b""
    parts = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


# -- local --------------------------------------------------------------------


class LocalStorage(Storage):
    name: ClassVar[str] = "local"

    def __init__(self, root: Path):
        self.root = root

    def path(self, key: str) -> Path:
        if "/" not in key or ".." in key or key.startswith("/"):
            raise MediaMissing(f"local media key {key!r} is not one autopostr wrote")
        return self.root / key

    def put(self, stream: IO[bytes], *, media_id: int, sha256: str) -> str:
        key = f"{sha256[:2]}/{sha256}"
        target = self.root / key
        # Posts not yet published are nobody else's business: 0700 folders, 0600 files.
        ensure_private_dir(target.parent)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
        temp = Path(temp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise _changed(sha256, digest.hexdigest())
            os.chmod(temp, 0o600)
            # Atomic: readers see the old file or the new one, never a partial one.
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return key

    def open(self, key: str) -> IO[bytes]:
        path = self.path(key)
        try:
            return open(path, "rb", buffering=CHUNK_SIZE)
        except FileNotFoundError:
            raise MediaMissing(
                f"media file {path} is missing: it is stored on the disk of the machine that "
                "uploaded it (local storage); upload it again, or use database storage "
                "(AUTOPOSTR_MEDIA_STORAGE=database) for teams on several machines"
            ) from None

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only when empty


# -- database ------------------------------------------------------------------


class DatabaseStorage(Storage):
    """Chunks are written on the caller's session (its transaction); readers use
    their own short connections, one chunk at a time."""

    name: ClassVar[str] = "database"

    def __init__(self, engine: Engine, session: DbSession | None = None):
        self.engine = engine
        self.session = session

    def put(self, stream: IO[bytes], *, media_id: int, sha256: str) -> str:
        from sqlalchemy import insert

        from autopostr.models import MediaChunk

        if self.session is None:
            raise RuntimeError("database storage writes need a session")
        table = MediaChunk.__table__  # type: ignore[attr-defined]
        digest = hashlib.sha256()
        seq = 0
        # Every chunk but the last is exactly CHUNK_SIZE, so a reader can seek by index.
        while chunk := read_full(stream):
            digest.update(chunk)
            self.session.execute(insert(table), {"media_id": media_id, "seq": seq, "data": chunk})
            seq += 1
        if digest.hexdigest() != sha256:
            raise _changed(sha256, digest.hexdigest())
        return str(media_id)

    def open(self, key: str) -> IO[bytes]:
        return io.BufferedReader(ChunkReader(self.engine, _media_id(key)), CHUNK_SIZE)

    def delete(self, key: str) -> None:
        from sqlalchemy import delete
        from sqlmodel import col

        from autopostr.models import MediaChunk

        if self.session is None:
            raise RuntimeError("database storage deletes need a session")
        self.session.execute(delete(MediaChunk).where(col(MediaChunk.media_id) == _media_id(key)))


def _media_id(key: str) -> int:
    if not key.isdigit():
        raise MediaMissing(f"database media key {key!r} is not a media id")
    return int(key)


class ChunkReader(io.RawIOBase):
    """Reads `media_chunks` rows of one item in order, holding one chunk at a time.

    One connection serves the whole read, but each chunk is its own short
    transaction: a long read never keeps a transaction (or SQLite's write lock)
    open, and a row deleted mid-read is a clear error, not a silent short file.
    """

    def __init__(self, engine: Engine, media_id: int):
        super().__init__()
        self.engine = engine
        self.media_id = media_id
        self._conn: Connection | None = None
        self._pos = 0
        self._chunk_seq = -1
        self._chunk = b""
        self._count, self._size = self._extent()

    def _fetch(self, statement: Any) -> Any:
        if self._conn is None:
            self._conn = self.engine.connect()
        try:
            return self._conn.execute(statement).first()
        finally:
            self._conn.rollback()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        super().close()

    def _extent(self) -> tuple[int, int]:
        from sqlalchemy import func, select
        from sqlmodel import col

        from autopostr.models import MediaChunk

        row = self._fetch(
            select(
                func.count(), func.coalesce(func.sum(func.length(col(MediaChunk.data))), 0)
            ).where(col(MediaChunk.media_id) == self.media_id)
        )
        count, size = (int(row[0]), int(row[1])) if row is not None else (0, 0)
        if count == 0:
            self.close()
            raise MediaMissing(f"media {self.media_id} has no stored bytes in the database")
        return count, size

    def _load(self, seq: int) -> None:
        from sqlalchemy import select
        from sqlmodel import col

        from autopostr.models import MediaChunk

        row = self._fetch(
            select(col(MediaChunk.data)).where(
                col(MediaChunk.media_id) == self.media_id, col(MediaChunk.seq) == seq
            )
        )
        if row is None:
            raise MediaMissing(f"media {self.media_id} lost chunk {seq} while being read")
        self._chunk = bytes(row[0])
        self._chunk_seq = seq

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._pos < self._size:
            seq, within = divmod(self._pos, CHUNK_SIZE)
            if seq != self._chunk_seq:
                self._load(seq)
            piece = self._chunk[within : within + len(view) - filled]
            if not piece:
                break
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
            self._pos += len(piece)
        return filled


# -- choosing a backend ------------------------------------------------------------


def configured_backend(settings: Settings, dialect: str) -> str:
    """The backend new uploads go to: the setting, else the engine's default."""
    raw = (settings.get("media_storage") or "").strip().lower()
    if not raw:
        return "database" if dialect == "postgresql" else "local"
    if raw not in BACKENDS:
        raise ConfigError(
            f"AUTOPOSTR_MEDIA_STORAGE: {raw!r} is not a storage backend; use "
            f"{' or '.join(BACKENDS)} (from {settings.source('media_storage')})"
        )
    return raw


def media_root(settings: Settings) -> Path:
    return settings.home / "media"


def backend(
    name: str, settings: Settings, engine: Engine, session: DbSession | None = None
) -> Storage:
    if name == "local":
        return LocalStorage(media_root(settings))
    if name == "database":
        return DatabaseStorage(engine, session)
    raise MediaMissing(f"unknown media storage {name!r}: this autopostr knows {BACKENDS}")
