"""`autopostr export-dir DIR`: the team's posts not yet sent, written as a content folder.

Each post becomes a file (its key in the folder if it came from one, else
`<date>-post-<id>.md`), its media files are written once each under `media/`,
and the post is recorded as coming from that file with the hash of its content:
`plan DIR` on the folder just written shows no changes, and the team has moved
to content as code in one step.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from autopostr import accounts as accounts_mod
from autopostr import audit
from autopostr.ascode.files import render
from autopostr.ascode.plan import content_of, records
from autopostr.config import Settings
from autopostr.errors import Conflict, InvalidInput
from autopostr.identity import Actor
from autopostr.models import CodePost, Media, Post, utcnow
from autopostr.permissions import require
from autopostr.posts import PostView, views_for
from autopostr.states import UNDECIDED_POSTS, PostState

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session as DbSession

EXPORTED_STATES = UNDECIDED_POSTS | {PostState.SCHEDULED}


@dataclass
class Exported:
    root: str
    files: list[str] = field(default_factory=list)
    media: int = 0


def _path_key(key: str) -> PurePosixPath | None:
    """The key as a path inside the folder, or None when it is an `id:` (or unsafe)."""
    path = PurePosixPath(key)
    if path.suffix != ".md" or path.is_absolute() or ".." in path.parts or "\\" in key:
        return None
    return path


def _new_name(view: PostView, taken: set[str]) -> str:
    post = view.post
    day = post.scheduled_at.strftime("%Y-%m-%d") if post.scheduled_at else "draft"
    name = f"{day}-post-{post.id}.md"
    while name in taken:
        name = f"_{name}"
    return name


def _safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "file"
    return cleaned[-80:]


def export_dir(db: DbSession, actor: Actor, settings: Settings, root: Path) -> Exported:
    from sqlmodel import col, select

    team_id = require(actor, "posts.write")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise Conflict(f"{root}: not an empty folder; export into a new one")
    posts = list(
        db.exec(
            select(Post)
            .where(Post.team_id == team_id, col(Post.status).in_(list(EXPORTED_STATES)))
            .order_by(col(Post.scheduled_at).is_(None), col(Post.scheduled_at), col(Post.id))
        )
    )
    known = {r.post_id: r for r in records(db, team_id).values()}
    taken = {r.key for r in known.values()}
    result = Exported(str(root))
    media_paths: dict[str, Path] = {}
    now = utcnow()
    final = root
    try:
        # Written beside the folder, then moved into place: a failed export leaves nothing.
        root.parent.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root.parent))
        umask = os.umask(0o022)
        os.umask(umask)
        root.chmod(0o777 & ~umask)  # a folder for git, not a private one
        for view in views_for(db, posts):
            assert view.post.id is not None
            record = known.get(view.post.id)
            key = record.key if record else _new_name(view, taken)
            taken.add(key)
            relative = _path_key(key) or PurePosixPath(_new_name(view, taken | {key}))
            target = root.joinpath(*relative.parts)
            front = _front_matter(view, key if relative.as_posix() != key else None)
            front["media"] = [
                Path(
                    os.path.relpath(_write_media(db, settings, root, m, media_paths), target.parent)
                ).as_posix()
                for m in view.media
            ]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(front, view.post.text), encoding="utf-8")
            result.files.append(relative.as_posix())
            digest = content_of(view).digest()
            if record is None:
                db.add(
                    CodePost(
                        team_id=team_id,
                        key=key,
                        post_id=view.post.id,
                        content_hash=digest,
                        applied_at=now,
                    )
                )
            elif record.content_hash != digest:
                record.content_hash, record.applied_at = digest, now
                db.add(record)
        if final.exists():
            final.rmdir()
        root.rename(final)
    except OSError as exc:
        raise InvalidInput(f"{final}: cannot write the folder: {exc.strerror}") from None
    finally:
        if root != final and root.exists():
            shutil.rmtree(root, ignore_errors=True)
    result.media = len(media_paths)
    audit.record(
        db, actor, "code.export", "team", team_id, folder=final.name, posts=len(result.files)
    )
    return result


def _front_matter(view: PostView, key: str | None) -> dict[str, Any]:
    post = view.post
    at = None
    if post.scheduled_at is not None:
        zone = ZoneInfo(post.timezone) if post.timezone else None
        at = (post.scheduled_at.astimezone(zone) if zone else post.scheduled_at).isoformat()
    content = content_of(view)
    return {
        "id": key,
        "to": [accounts_mod.label(a) for _d, a in view.destinations],
        "at": at,
        "timezone": post.timezone,
        "status": content.status,
        "first_comment": post.first_comment,
        "variants": dict(content.variants),
        "labels": list(content.labels),
    }


def _write_media(
    db: DbSession, settings: Settings, root: Path, item: Media, written: dict[str, Path]
) -> Path:
    """The item's bytes under media/, once per item."""
    from autopostr.media import opener

    path = written.get(item.sha256)
    if path is None:
        path = root / "media" / f"{item.sha256[:12]}-{_safe_filename(item.filename)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        engine: Engine = db.get_bind().engine
        with opener(settings, engine, item)() as source, path.open("wb") as out:
            shutil.copyfileobj(source, out)
        written[item.sha256] = path
    return path
