"""Storage backends: local files and database chunks, each on both engines."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from autopostr.config import load_settings
from autopostr.db import Database
from autopostr.errors import InvalidInput
from autopostr.models import Media, MediaChunk
from autopostr.storage import (
    CHUNK_SIZE,
    ChunkReader,
    DatabaseStorage,
    LocalStorage,
    MediaMissing,
    configured_backend,
)
from tests import media_samples as ms
from tests.helpers import Cli, db_session

DEFAULT_BACKEND = {"sqlite": "local", "postgresql": "database"}
OTHER_BACKEND = {"sqlite": "database", "postgresql": "local"}


def chunk_count(media_id: int) -> int:
    from sqlmodel import col, func, select

    with db_session() as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(MediaChunk)
                .where(col(MediaChunk.media_id) == media_id)
            ).one()
        )


def stored_bytes(media_id: int) -> bytes:
    from autopostr.media import opener

    with db_session() as session:
        item = session.get(Media, media_id)
        assert item is not None
        open_stream = opener(load_settings(), Database(load_settings()).engine, item)
    with open_stream() as stream:
        return bytes(stream.read())


def big_video(path: Path, mib: float = 2.5) -> Path:
    """A valid MP4 whose media data spans several chunks."""
    payload = os.urandom(int(mib * CHUNK_SIZE))
    path.write_bytes(ms.video_bytes(payload=payload))
    return path


def test_default_backend_follows_the_engine(
    initialized: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    video = big_video(tmp_path / "clip.mp4")
    (item,) = cli.ok("media", "upload", str(video), "--json").json()
    assert item["storage"] == DEFAULT_BACKEND[initialized]
    media_id = int(item["id"])
    files = list((isolated_env / "media").rglob("*")) if (isolated_env / "media").exists() else []
    if initialized == "sqlite":
        sha = item["sha256"]
        assert (isolated_env / "media" / sha[:2] / sha).read_bytes() == video.read_bytes()
        assert chunk_count(media_id) == 0
    else:
        assert chunk_count(media_id) == 3  # 2.5 MiB of data plus the header
        assert not [f for f in files if f.is_file()]
    assert stored_bytes(media_id) == video.read_bytes()


def test_the_other_backend_when_chosen(
    initialized: str,
    cli: Cli,
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTOPOSTR_MEDIA_STORAGE", OTHER_BACKEND[initialized])
    video = big_video(tmp_path / "clip.mp4", mib=1.2)
    (item,) = cli.ok("media", "upload", str(video), "--json").json()
    assert item["storage"] == OTHER_BACKEND[initialized]
    media_id = int(item["id"])
    if initialized == "postgresql":
        assert chunk_count(media_id) == 0
        assert (isolated_env / "media" / item["sha256"][:2] / item["sha256"]).is_file()
    else:
        assert chunk_count(media_id) == 2
        assert not (isolated_env / "media").exists()
    # The item keeps its backend when the setting changes back.
    monkeypatch.delenv("AUTOPOSTR_MEDIA_STORAGE")
    assert stored_bytes(media_id) == video.read_bytes()


def test_an_unknown_backend_is_a_config_error(initialized: str, cli: Cli, tmp_path: Path) -> None:
    image = ms.image(tmp_path / "a.png", "PNG")
    run = cli("media", "upload", str(image), env={"AUTOPOSTR_MEDIA_STORAGE": "s3"})
    assert run.exit_code == 5
    assert "AUTOPOSTR_MEDIA_STORAGE" in run.stderr and "local or database" in run.stderr
    assert cli.ok("media", "list", "--json").json() == []


def test_configured_backend_defaults() -> None:
    settings = load_settings({"AUTOPOSTR_HOME": "/tmp/x"})
    assert configured_backend(settings, "sqlite") == "local"
    assert configured_backend(settings, "postgresql") == "database"
    chosen = load_settings({"AUTOPOSTR_HOME": "/tmp/x", "AUTOPOSTR_MEDIA_STORAGE": "Database"})
    assert configured_backend(chosen, "sqlite") == "database"


def test_chunk_reader_streams_one_chunk_at_a_time_and_seeks(
    initialized: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_MEDIA_STORAGE", "database")
    video = big_video(tmp_path / "clip.mp4", mib=3.3)
    data = video.read_bytes()
    (item,) = cli.ok("media", "upload", str(video), "--json").json()
    media_id = int(item["id"])
    assert chunk_count(media_id) == 4
    engine = Database(load_settings()).engine
    with ChunkReader(engine, media_id) as raw:
        pieces = []
        while piece := raw.read(300_000):
            assert len(raw._chunk) <= CHUNK_SIZE  # never more than one chunk held
            pieces.append(piece)
        assert b"".join(pieces) == data
        raw.seek(CHUNK_SIZE - 5)
        assert raw.read(10) == data[CHUNK_SIZE - 5 : CHUNK_SIZE + 5]
        raw.seek(-7, io.SEEK_END)
        assert raw.read() == data[-7:]
        assert raw.tell() == len(data)
    with DatabaseStorage(engine).open(str(media_id)) as buffered:
        assert hashlib.sha256(buffered.read()).hexdigest() == item["sha256"]


def test_local_put_is_atomic_and_verifies_the_hash(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "media")
    data = b"abc" * 1000
    sha = hashlib.sha256(data).hexdigest()
    key = store.put(io.BytesIO(data), media_id=1, sha256=sha)
    assert key == f"{sha[:2]}/{sha}"
    with store.open(key) as stream:
        assert stream.read() == data
    # Bytes that do not hash as promised (the file changed) leave nothing behind.
    with pytest.raises(InvalidInput, match="changed while it was being stored"):
        store.put(io.BytesIO(b"other bytes"), media_id=2, sha256="0" * 64)
    assert sorted(p.name for p in (tmp_path / "media").rglob("*") if p.is_file()) == [sha]
    store.delete(key)
    store.delete(key)  # already gone: no error
    with pytest.raises(MediaMissing, match="missing"):
        store.open(key)


def test_database_put_in_a_failed_transaction_leaves_no_chunk(initialized: str, cli: Cli) -> None:
    from sqlmodel import select

    from autopostr.models import Team

    data = os.urandom(CHUNK_SIZE + 10)
    with pytest.raises(InvalidInput), db_session() as session:
        team = session.exec(select(Team)).first()
        assert team is not None and team.id is not None
        item = Media(
            team_id=team.id, filename="x", mime_type="video/mp4", size=len(data), sha256="0" * 64
        )
        session.add(item)
        session.flush()
        assert item.id is not None
        store = DatabaseStorage(session.get_bind().engine, session)
        store.put(io.BytesIO(data), media_id=item.id, sha256="0" * 64)
    with db_session() as session:
        assert session.exec(select(MediaChunk)).first() is None
        assert session.exec(select(Media)).first() is None


def test_missing_bytes_are_a_clear_error(initialized: str) -> None:
    engine = Database(load_settings()).engine
    with pytest.raises(MediaMissing, match="no stored bytes"):
        DatabaseStorage(engine).open("999")
    with pytest.raises(MediaMissing):
        LocalStorage(Path("/nonexistent")).open("../etc/passwd")


def test_upgrade_from_0001_keeps_media_and_its_post_links(engine: str) -> None:
    """0002 adds columns in place: no table copy that would cascade into post_media."""
    from sqlalchemy import text

    from autopostr.db import SCHEMA_HEAD
    from autopostr.migrate import upgrade

    db = Database(load_settings())
    upgrade(db, "0001_initial")
    stamp = "2026-01-02 03:04:05+00:00"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO teams (id, name, personal, approval_required, created_at) "
                "VALUES (1, 't', false, false, :at)"
            ),
            {"at": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO media (id, team_id, filename, mime_type, size, sha256, storage, "
                "storage_key, created_at) VALUES (1, 1, 'a.png', 'image/png', 3, :sha, 'local', "
                "'ab/cd', :at)"
            ),
            {"sha": "a" * 64, "at": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO posts (id, team_id, status, text, created_at, updated_at) "
                "VALUES (1, 1, 'draft', 'x', :at, :at)"
            ),
            {"at": stamp},
        )
        conn.execute(text("INSERT INTO post_media (post_id, media_id, position) VALUES (1, 1, 0)"))
    _before, after = upgrade(db)
    assert after == SCHEMA_HEAD
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM post_media")).scalar() == 1
        row = conn.execute(text("SELECT updated_at, created_at, frames FROM media")).one()
        assert row[0] == row[1] and row[2] is None
