"""The media library: upload (sniff, limit, dedupe, store), list, show, rm, cleanup.

An upload checks the file's real type from its bytes, the global size and type
limits, and dedupes by SHA-256 within the team: the same bytes uploaded again
are the existing item (its alt text updated when one is given). The media row
and its bytes are written in the caller's transaction: a command that fails
leaves no row, no chunk and no file behind (a local file written for a
transaction that rolls back is removed unless another row uses it).
Platform limits are checked later, when media is attached to a post.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopostr import audit
from autopostr.config import Settings
from autopostr.errors import ConfigError, Conflict, InvalidInput, NotFound
from autopostr.identity import Actor
from autopostr.models import Media, utcnow
from autopostr.permissions import require
from autopostr.platforms.base import IMAGE_TYPES, VIDEO_TYPES
from autopostr.states import MAY_GO_OUT, UNSETTLED, DestinationState

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session as DbSession

    from autopostr.models import Post

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1024**3
SUPPORTED_TYPES = IMAGE_TYPES | VIDEO_TYPES
DEFAULT_GRACE = timedelta(hours=24)


# -- settings ---------------------------------------------------------------------


def max_bytes(settings: Settings) -> int:
    return settings.size("media_max_bytes", DEFAULT_MAX_BYTES)


def allowed_types(settings: Settings) -> frozenset[str]:
    """AUTOPOSTR_MEDIA_ALLOWED_TYPES: comma-separated MIME types (default: all supported)."""
    raw = settings.get("media_allowed_types")
    if not raw or not raw.strip():
        return SUPPORTED_TYPES
    chosen = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = sorted(chosen - SUPPORTED_TYPES)
    if unknown:
        raise ConfigError(
            f"AUTOPOSTR_MEDIA_ALLOWED_TYPES: {', '.join(unknown)} not supported; choose from "
            f"{', '.join(sorted(SUPPORTED_TYPES))}"
        )
    return chosen


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


# -- after the transaction ----------------------------------------------------------

_AFTER = "autopostr.media.after"


def _after(db: DbSession, when: str, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction commits (`commit`) or rolls back."""
    hooks: dict[str, list[Callable[[], None]]] | None = db.info.get(_AFTER)
    if hooks is None:
        from sqlalchemy import event

        hooks = db.info[_AFTER] = {"commit": [], "rollback": []}
        event.listen(db, "after_commit", lambda s: _run_after(s, "commit"))
        event.listen(db, "after_rollback", lambda s: _run_after(s, "rollback"))
    hooks[when].append(action)


def _run_after(db: DbSession, which: str) -> None:
    hooks = db.info.get(_AFTER)
    if not hooks:
        return
    actions = hooks[which]
    hooks["commit"], hooks["rollback"] = [], []
    for action in actions:
        try:
            action()
        except Exception as exc:  # the transaction's outcome stands; a stray file is harmless
            log.warning("media: could not remove a stored file: %s", exc)


def _engine(db: DbSession) -> Engine:
    engine: Engine = db.get_bind().engine
    return engine


def _drop_local_if_unused(engine: Engine, settings: Settings, key: str) -> None:
    """Local files are shared by every row with the same bytes: remove one only
    when no committed row refers to it any more."""
    from sqlmodel import select

    from autopostr.storage import LocalStorage, media_root

    with engine.connect() as conn:
        used = conn.execute(
            select(Media.id).where(Media.storage == "local", Media.storage_key == key).limit(1)
        ).first()
    if used is None:
        LocalStorage(media_root(settings)).delete(key)


def _forget_bytes(db: DbSession, settings: Settings, item: Media) -> None:
    """Delete a row's bytes with it: chunks in this transaction, files after it commits."""
    from autopostr.storage import DatabaseStorage

    if item.storage == "database":
        DatabaseStorage(_engine(db), db).delete(item.storage_key or str(item.id))
    elif item.storage == "local" and item.storage_key:
        engine, key = _engine(db), item.storage_key
        _after(db, "commit", lambda: _drop_local_if_unused(engine, settings, key))


# -- upload -----------------------------------------------------------------------


def sha256_of(handle: Any, chunk_size: int = 1024 * 1024) -> tuple[str, int]:
    """The SHA-256 and length of everything left in `handle`, a chunk at a time."""
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(chunk_size):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _find(db: DbSession, team_id: int, sha256: str) -> Media | None:
    from sqlmodel import select

    return db.exec(select(Media).where(Media.team_id == team_id, Media.sha256 == sha256)).first()


def _repair_local(db: DbSession, settings: Settings, item: Media, handle: Any) -> None:
    """The same bytes again, but this machine lost the file: store it anew."""
    from autopostr.storage import LocalStorage, media_root

    store = LocalStorage(media_root(settings))
    if item.storage != "local" or not item.storage_key or store.path(item.storage_key).exists():
        return
    handle.seek(0)
    key = store.put(handle, media_id=item.id or 0, sha256=item.sha256)
    item.storage_key = key
    db.add(item)


@dataclass
class Uploaded:
    item: Media
    created: bool  # False: the same bytes were already in the library


def upload(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    path: str | Path,
    alt_text: str | None = None,
    *,
    field: str = "",
) -> Uploaded:
    """Sniff, check, dedupe and store one file in the actor's team."""
    import os

    from autopostr.sniff import open_regular, sniff_file
    from autopostr.storage import backend, configured_backend

    team_id = require(actor, "media.write")
    path = Path(path).expanduser()
    where = f"{field + ' ' if field else ''}{path}"
    limit = max_bytes(settings)
    allowed = allowed_types(settings)
    with open_regular(path, field) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise InvalidInput(
                f"{where}: {human_size(size)} is over the upload limit of {human_size(limit)} "
                "(AUTOPOSTR_MEDIA_MAX_BYTES)"
            )
        sniffed = sniff_file(handle, size, where)
        if sniffed.mime_type not in allowed:
            raise InvalidInput(
                f"{where}: {sniffed.mime_type} uploads are not allowed here; allowed: "
                f"{', '.join(sorted(allowed))} (AUTOPOSTR_MEDIA_ALLOWED_TYPES)"
            )
        handle.seek(0)
        sha256, hashed = sha256_of(handle)
        if hashed != size:
            raise InvalidInput(
                f"{where}: the file changed while it was being read; upload it again once it "
                "is complete"
            )
        now = utcnow()
        existing = _find(db, team_id, sha256)
        if existing is not None:
            if alt_text is not None:
                existing.alt_text = alt_text.strip() or None
            existing.updated_at = now
            db.add(existing)
            _repair_local(db, settings, existing, handle)
            audit.record(db, actor, "media.reupload", "media", existing.id, sha256=sha256)
            return Uploaded(existing, created=False)
        storage_name = configured_backend(settings, _engine(db).dialect.name)
        item = Media(
            team_id=team_id,
            uploaded_by=actor.user_id,
            filename=path.name[-500:],
            mime_type=sniffed.mime_type,
            size=size,
            sha256=sha256,
            width=sniffed.width,
            height=sniffed.height,
            duration=sniffed.duration,
            frames=sniffed.frames,
            alt_text=(alt_text or "").strip() or None,
            storage=storage_name,
            created_at=now,
            updated_at=now,
        )
        db.add(item)
        db.flush()  # the id, and a concurrent upload of the same bytes fails here, not later
        assert item.id is not None
        handle.seek(0)
        store = backend(storage_name, settings, _engine(db), db)
        key = store.put(handle, media_id=item.id, sha256=sha256)
        if storage_name == "local":
            engine = _engine(db)
            _after(db, "rollback", lambda: _drop_local_if_unused(engine, settings, key))
        item.storage_key = key
        db.add(item)
        audit.record(db, actor, "media.upload", "media", item.id, sha256=sha256, size=size)
        db.flush()
        return Uploaded(item, created=True)


def upload_many(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    paths: Sequence[str],
    alt_texts: Sequence[str] = (),
) -> list[Uploaded]:
    """All or nothing: one bad file and the caller's transaction stores none.

    `alt_texts` are one per file, in order: one text describes one picture, so a
    single --alt for several files is refused rather than copied onto all of them."""
    if not paths:
        raise InvalidInput("PATH: give at least one file to upload")
    if alt_texts and len(alt_texts) != len(paths):
        raise InvalidInput(
            f"--alt: give one per file, in the same order ({len(paths)} files, "
            f"{len(alt_texts)} --alt); or upload them one at a time"
        )
    texts: list[str | None] = list(alt_texts) or [None] * len(paths)
    return [upload(db, actor, settings, p, t) for p, t in zip(paths, texts, strict=True)]


# -- reading the library ------------------------------------------------------------


def get(db: DbSession, team_id: int, media_id: int, *, lock: bool = False) -> Media:
    from sqlmodel import select

    query = select(Media).where(Media.id == media_id)
    if lock:
        query = query.with_for_update()
    item = db.exec(query).first()
    if item is None or item.team_id != team_id:
        raise NotFound(f"media {media_id} not found: see `autopostr media list`")
    return item


def parse_id(raw: str, field: str = "ID") -> int:
    text = str(raw).strip()
    if not text.isdigit():
        raise InvalidInput(f"{field} {raw!r}: give a media id from `autopostr media list`")
    return int(text)


@dataclass
class MediaView:
    item: Media
    posts: list[int] = field(default_factory=list)


def list_media(db: DbSession, actor: Actor) -> list[Media]:
    from sqlmodel import col, select

    team_id = require(actor, "media.read")
    return list(db.exec(select(Media).where(Media.team_id == team_id).order_by(col(Media.id))))


def posts_using(db: DbSession, media_id: int) -> list[int]:
    from sqlmodel import col, select

    from autopostr.models import PostMedia

    rows = db.exec(
        select(PostMedia.post_id)
        .where(PostMedia.media_id == media_id)
        .order_by(col(PostMedia.post_id))
    )
    return [int(r) for r in rows]


def show(db: DbSession, actor: Actor, media_id: int) -> MediaView:
    item = get(db, require(actor, "media.read"), media_id)
    return MediaView(item, posts_using(db, media_id))


def resolve_refs(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    team_id: int,
    refs: Sequence[str],
    field: str = "--media",
) -> list[Media]:
    """`--media ID|PATH`: ids name the team's items, anything else is a file to upload.

    A file whose name is all digits is given as ./123 to tell it from an id.
    """
    items: list[Media] = []
    for raw in refs:
        ref = str(raw).strip()
        if not ref:
            raise InvalidInput(f"{field}: give a media id or a file path")
        if ref.isdigit():
            try:
                item = get(db, team_id, int(ref))
            except NotFound:
                raise NotFound(
                    f"{field} {ref}: media {ref} not found: see `autopostr media list`"
                ) from None
        else:
            item = upload(db, actor, settings, ref, field=field).item
        if item not in items:
            items.append(item)
    return items


# -- removing -----------------------------------------------------------------------


def _unsent_users(db: DbSession, media_id: int) -> tuple[list[Post], bool]:
    """Posts still to go out that use this item, and whether one is mid-publish."""
    from sqlmodel import col, select

    from autopostr.models import Post, PostDestination, PostMedia

    posts = list(
        db.exec(
            select(Post)
            .join(PostMedia, col(PostMedia.post_id) == col(Post.id))
            .where(PostMedia.media_id == media_id)
            .order_by(col(Post.id))
        )
    )
    unsent: list[Post] = []
    claimed = False
    for post in posts:
        states = set(
            db.exec(select(PostDestination.status).where(PostDestination.post_id == post.id))
        )
        claimed = claimed or DestinationState.CLAIMED in states
        if post.status in MAY_GO_OUT or states & UNSETTLED:
            unsent.append(post)
    return unsent, claimed


def set_alt_text(db: DbSession, actor: Actor, media_id: int, text: str) -> Media:
    """A new alt text for an item. Its alt text goes out with every post that carries it,
    so this is an edit of those not yet sent: an approved one goes back for approval, by
    the rule every edit asks (`approval.Approval`)."""
    from autopostr import approval

    team_id = require(actor, "media.write")
    item = get(db, team_id, media_id, lock=True)
    unsent, claimed = _unsent_users(db, media_id)
    if claimed:
        raise Conflict(f"media {media_id} is being published right now; try again in a moment")
    item.alt_text = text.strip() or None
    item.updated_at = utcnow()
    db.add(item)
    rule = approval.Approval.for_actor(db, actor)
    held = []
    for post in unsent:
        if rule.status_for(post.status, approval.EDIT) != post.status:
            approval.hold_for_approval(db, post)
            held.append(post.id)
    audit.record(db, actor, "media.alt_text", "media", media_id, held_for_approval=held)
    db.flush()
    return item


def to_remove(db: DbSession, actor: Actor, media_id: int, *, force: bool = False) -> MediaView:
    """What `media rm` would delete, checked as it checks, before anyone is asked."""
    item, unsent = _removable(db, actor, media_id, force=force)
    return MediaView(item, [p.id for p in unsent if p.id is not None])


def _removable(
    db: DbSession, actor: Actor, media_id: int, *, force: bool, lock: bool = False
) -> tuple[Media, list[Post]]:
    """The item and the unsent posts it would be detached from; refused while one of them
    is mid-publish, or (without `force`) while any uses it."""
    team_id = require(actor, "media.write")
    item = get(db, team_id, media_id, lock=lock)
    unsent, claimed = _unsent_users(db, media_id)
    if claimed:
        raise Conflict(f"media {media_id} is being published right now; try again in a moment")
    if unsent and not force:
        ids = ", ".join(str(p.id) for p in unsent)
        raise Conflict(
            f"media {media_id} is used by post(s) {ids} not yet published: detach it with "
            f"`autopostr posts edit {unsent[0].id} --remove-media {media_id}`, or remove it "
            "from them with --force"
        )
    return item, unsent


def remove(
    db: DbSession, actor: Actor, settings: Settings, media_id: int, *, force: bool = False
) -> Media:
    """Delete an item and its bytes; refused while a post still to go out uses it."""
    item, unsent = _removable(db, actor, media_id, force=force, lock=True)
    _forget_bytes(db, settings, item)
    db.delete(item)
    audit.record(
        db,
        actor,
        "media.rm",
        "media",
        media_id,
        sha256=item.sha256,
        detached_from=[p.id for p in unsent],
    )
    db.flush()
    return item


@dataclass
class CleanupResult:
    items: list[Media]
    dry_run: bool
    older_than: timedelta

    @property
    def bytes(self) -> int:
        return sum(item.size for item in self.items)


def cleanup(
    db: DbSession,
    settings: Settings,
    *,
    older_than: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
    team_id: int | None = None,
    now: datetime | None = None,
) -> CleanupResult:
    """Remove orphans (no post refers to them) untouched for longer than `older_than`.

    On PostgreSQL the orphans are locked with SKIP LOCKED: two daemons cleaning at
    once split the work, and a post attaching an item right now keeps it (its
    foreign-key check holds the row), or fails cleanly if the item went first.
    """
    from sqlalchemy import func, not_
    from sqlmodel import col, select

    from autopostr.models import PostMedia

    cutoff = (now or utcnow()) - older_than
    attached = select(PostMedia.media_id).where(col(PostMedia.media_id) == col(Media.id))
    query = select(Media).where(
        not_(attached.exists()),
        func.coalesce(col(Media.updated_at), col(Media.created_at)) < cutoff,
    )
    if team_id is not None:
        query = query.where(Media.team_id == team_id)
    if not dry_run and _engine(db).dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    items = list(db.exec(query.order_by(col(Media.id))))
    if not dry_run:
        for item in items:
            _forget_bytes(db, settings, item)
            db.delete(item)
            audit.record(
                db, None, "media.cleanup", "media", item.id, team_id=item.team_id, size=item.size
            )
        db.flush()
    return CleanupResult(items, dry_run, older_than)


def cleanup_team(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    *,
    older_than: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
) -> CleanupResult:
    team_id = require(actor, "media.write")
    return cleanup(db, settings, older_than=older_than, dry_run=dry_run, team_id=team_id)


# -- reading the bytes ------------------------------------------------------------


def opener(settings: Settings, engine: Engine, item: Media) -> Callable[[], Any]:
    """A callable that opens a streaming reader of the item's bytes, from the
    backend the item was stored in (not today's default)."""
    storage_name, key = item.storage, item.storage_key or str(item.id)

    def open_stream() -> Any:
        from autopostr.platforms.base import TransientError
        from autopostr.storage import MediaMissing, backend

        try:
            return backend(storage_name, settings, engine).open(key)
        except MediaMissing as exc:
            # To the publisher this is a failed call like any other: retried (another
            # daemon may hold a local file), then failed for good after the last attempt.
            raise TransientError(exc.message) from None

    return open_stream
