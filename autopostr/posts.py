"""Posts and their destinations: create, validate, schedule, edit, list.

A post holds the text and media; each destination is that post on one
account, with an optional text of its own. Validation against every
destination's platform happens here, when a post is written, never first at
publish time. A post's state follows from its destinations once it is due.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autopostr import accounts as accounts_mod
from autopostr import approval, audit
from autopostr.config import Settings
from autopostr.errors import Conflict, InvalidInput, NotFound
from autopostr.identity import Actor
from autopostr.models import (
    Media,
    Post,
    PostDestination,
    PostMedia,
    SocialAccount,
    Team,
    utcnow,
)
from autopostr.permissions import require
from autopostr.queue.transitions import notify_due, set_due
from autopostr.states import EDITABLE_POSTS, RETRYABLE, WENT_OUT, DestinationState, PostState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

    from autopostr.platforms.base import Platform

THREAD_SEPARATOR = re.compile(r"^\s*---\s*$", re.MULTILINE)


def split_thread(text: str) -> list[str]:
    """A line holding only `---` starts the next part of a thread."""
    if "---" not in text:
        return [text.strip()]
    parts = [part.strip() for part in THREAD_SEPARATOR.split(text)]
    return [part for part in parts if part] or [""]


def content_key(text: str, account_labels: Sequence[str], at: datetime | None) -> str:
    """What makes two imports "the same post" when no external id is given."""
    basis = "\x1f".join(
        [
            text.strip(),
            ",".join(sorted(a.lower() for a in account_labels)),
            at.isoformat() if at else "",
        ]
    )
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


@dataclass
class DestinationSpec:
    account: SocialAccount
    text: str | None = None  # None: the post's text


@dataclass
class PostView:
    post: Post
    destinations: list[tuple[PostDestination, SocialAccount]]
    media: list[Media] = field(default_factory=list)
    author_email: str | None = None
    team_name: str | None = None


def platform_for(account: SocialAccount, settings: Settings) -> Platform:
    from autopostr.platforms.registry import get_platform

    return get_platform(account.platform, settings)


def validate_destination(
    platform: Platform,
    where: str,
    text: str,
    first_comment: str | None,
    media: Sequence[Media],
) -> list[str]:
    """Everything wrong with this text and media on this platform, each naming `where`."""
    limits = platform.limits
    if text and not media and not first_comment and "---" not in text and not limits.media.required:
        # The common case (one plain text) in one check: imports validate 100k rows.
        found = platform.text_problems(text)
        if not found:
            return []
        if text == text.strip():  # the one part is the text itself: measured already
            return [f"{where}: the text {problem}" for problem in found]
    problems: list[str] = []
    parts = split_thread(text)
    if len(parts) > 1 and not limits.threads:
        problems.append(f"{where}: {platform.title} has no threads (remove the --- lines)")
    if len(parts) > limits.max_thread_parts:
        problems.append(f"{where}: {len(parts)} thread parts, at most {limits.max_thread_parts}")
    for index, part in enumerate(parts, start=1):
        if not part and not media:
            problems.append(f"{where}: the text is empty")
        else:
            which = f"part {index} of the thread" if len(parts) > 1 else "the text"
            problems += [f"{where}: {which} {problem}" for problem in platform.text_problems(part)]
    if first_comment:
        if not limits.first_comment:
            problems.append(f"{where}: {platform.title} has no first comment")
        else:
            problems += [
                f"{where}: the first comment {problem}"
                for problem in platform.text_problems(first_comment)
            ]
    problems.extend(validate_media(platform, where, media))
    return problems


def validate_media(platform: Platform, where: str, media: Sequence[Media]) -> list[str]:
    m = platform.limits.media
    images = [item for item in media if item.mime_type.startswith("image/")]
    videos = [item for item in media if item.mime_type.startswith("video/")]
    problems = []
    if m.required and not media:
        problems.append(f"{where}: {platform.title} needs an image or a video")
    if images and videos and not m.mixed:
        problems.append(f"{where}: {platform.title} takes images or a video, not both")
    if len(images) > m.max_images:
        problems.append(
            f"{where}: {len(images)} images, {platform.title} takes at most {m.max_images}"
        )
    if len(videos) > m.max_videos:
        problems.append(
            f"{where}: {len(videos)} videos, {platform.title} takes at most {m.max_videos}"
        )
    for item in media:
        allowed = m.image_types | m.video_types
        limit = m.max_video_bytes if item.mime_type.startswith("video/") else m.max_image_bytes
        if item.mime_type == "image/gif" and m.max_gif_bytes:
            limit = m.max_gif_bytes
        if item.mime_type not in allowed:
            problems.append(
                f"{where}: media {item.id} is {item.mime_type}, which {platform.title} does not take"
            )
        elif item.size > limit:
            problems.append(
                f"{where}: media {item.id} is {item.size} bytes, {platform.title}'s limit is {limit}"
            )
        if item.mime_type.startswith("video/") and m.max_video_seconds and item.duration:
            if item.duration > m.max_video_seconds:
                problems.append(
                    f"{where}: video {item.id} lasts {item.duration:.0f} s, "
                    f"{platform.title}'s limit is {m.max_video_seconds:.0f} s"
                )
        problem = _aspect_problem(platform, item)
        if problem:
            problems.append(f"{where}: {problem}")
    return problems


def _aspect_problem(platform: Platform, item: Media) -> str | None:
    """The item's width:height against the platform's range (a small rounding slack)."""
    m = platform.limits.media
    video = item.mime_type.startswith("video/")
    low, high = (m.min_video_aspect, m.max_video_aspect) if video else (m.min_aspect, m.max_aspect)
    if (low is None and high is None) or not item.width or not item.height:
        return None
    ratio = item.width / item.height
    if (low is None or ratio >= low - 0.005) and (high is None or ratio <= high + 0.005):
        return None
    allowed = (
        f"{low:g}:1 to {high:g}:1"
        if low is not None and high is not None
        else (f"at least {low:g}:1" if low is not None else f"at most {high:g}:1")
    )
    what = "video" if video else "image"
    return (
        f"{what} {item.id} is {item.width}×{item.height} (aspect ratio {ratio:.2f}:1), "
        f"{platform.title} takes {allowed}"
    )


def _raise_problems(problems: list[str]) -> None:
    if problems:
        raise InvalidInput("; ".join(problems))


def _resolve_destinations(
    db: DbSession, team_id: int, to: Sequence[str], variants: dict[str, str]
) -> list[DestinationSpec]:
    if not to:
        raise InvalidInput("--to: name at least one account, e.g. --to sandbox:demo")
    specs: dict[int, DestinationSpec] = {}
    for name in to:
        account = accounts_mod.resolve(db, team_id, name)
        if account.status != accounts_mod.ACTIVE:
            raise InvalidInput(
                f"--to {name}: the account is {account.status}; to reconnect it, "
                f"{accounts_mod.reconnect_fix(account)}"
            )
        assert account.id is not None
        specs.setdefault(account.id, DestinationSpec(account))
    for name, text in variants.items():
        account = accounts_mod.resolve(db, team_id, name)
        assert account.id is not None
        if account.id not in specs:
            raise InvalidInput(f"--variant {name}: not one of the --to accounts")
        specs[account.id].text = text
    return list(specs.values())


def _resolve_media(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    team_id: int,
    media_refs: Sequence[str],
    field: str = "--media",
) -> list[Media]:
    """Media ids of the team, or paths uploaded now, in this same transaction: a post
    that fails validation leaves no uploaded media behind."""
    from autopostr import media as media_mod

    return media_mod.resolve_refs(db, actor, settings, team_id, media_refs, field)


def _validate_all(
    settings: Settings,
    specs: Sequence[DestinationSpec],
    text: str,
    first_comment: str | None,
    media: Sequence[Media],
) -> None:
    problems: list[str] = []
    for spec in specs:
        platform = platform_for(spec.account, settings)
        problems += validate_destination(
            platform, accounts_mod.label(spec.account), spec.text or text, first_comment, media
        )
    _raise_problems(problems)


def _check_future(at: datetime, now: datetime, field_name: str = "--at") -> None:
    if at <= now:
        raise InvalidInput(
            f"{field_name}: {at.isoformat(timespec='minutes')} is in the past; "
            "use `autopostr posts publish ID` to publish now"
        )


def create(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    *,
    text: str,
    to: Sequence[str],
    at: datetime | None = None,
    timezone: str | None = None,
    variants: dict[str, str] | None = None,
    first_comment: str | None = None,
    draft: bool = False,
    media_ids: Sequence[str] = (),
    external_id: str | None = None,
    now: datetime | None = None,
) -> Post:
    from autopostr.billing import limits as billing  # not needed to read posts

    team_id = require(actor, "posts.write")
    now = now or utcnow()
    text = text.strip()
    first_comment = (first_comment or "").strip() or None
    specs = _resolve_destinations(db, team_id, to, variants or {})
    media = _resolve_media(db, actor, settings, team_id, media_ids)
    _validate_all(settings, specs, text, first_comment, media)
    if at is not None and not draft:
        _check_future(at, now)
    wanted = approval.SCHEDULE if at is not None and not draft else approval.DRAFT
    status = approval.Approval.for_actor(db, actor).status_for(None, wanted)
    if status == PostState.SCHEDULED and at is not None:
        billing.check_posts(db, settings, team_id, [at], now=now)
    labels = [accounts_mod.label(spec.account) for spec in specs]
    post = Post(
        team_id=team_id,
        author_id=actor.user_id,
        status=status,
        text=text,
        scheduled_at=at,
        timezone=timezone,
        first_comment=first_comment,
        external_id=external_id,
        import_key=external_id or content_key(text, labels, at),
        created_at=now,
        updated_at=now,
    )
    db.add(post)
    db.flush()
    assert post.id is not None
    for spec in specs:
        assert spec.account.id is not None
        db.add(
            PostDestination(
                post_id=post.id,
                account_id=spec.account.id,
                text=spec.text,
                due_at=at if status == PostState.SCHEDULED else None,
                idempotency_key=uuid.uuid4().hex,
                created_at=now,
                updated_at=now,
            )
        )
    for position, item in enumerate(media):
        assert item.id is not None
        db.add(PostMedia(post_id=post.id, media_id=item.id, position=position))
    audit.record(db, actor, "post.create", "post", post.id, status=status)
    db.flush()
    if status == PostState.SCHEDULED:
        notify_due(db)
    return post


def get(db: DbSession, team_id: int, post_id: int) -> Post:
    post = db.get(Post, post_id)
    if post is None or post.team_id != team_id:
        raise NotFound(f"post {post_id} not found: see `autopostr posts list`")
    return post


def destinations_of(db: DbSession, post_id: int) -> list[tuple[PostDestination, SocialAccount]]:
    from sqlmodel import col, select

    rows = db.exec(
        select(PostDestination, SocialAccount)
        .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
        .where(PostDestination.post_id == post_id)
        .order_by(col(PostDestination.id))
    ).all()
    return [(d, a) for d, a in rows]


def media_of(db: DbSession, post_id: int) -> list[Media]:
    from sqlmodel import col, select

    rows = db.exec(
        select(Media)
        .join(PostMedia, col(PostMedia.media_id) == col(Media.id))
        .where(PostMedia.post_id == post_id)
        .order_by(col(PostMedia.position))
    ).all()
    return list(rows)


def view(db: DbSession, post: Post) -> PostView:
    from autopostr.models import Team, User

    assert post.id is not None
    author = db.get(User, post.author_id) if post.author_id else None
    team = db.get(Team, post.team_id)
    return PostView(
        post=post,
        destinations=destinations_of(db, post.id),
        media=media_of(db, post.id),
        author_email=author.email if author else None,
        team_name=team.name if team else None,
    )


def show(db: DbSession, actor: Actor, post_id: int) -> PostView:
    return view(db, get(db, require(actor, "posts.read"), post_id))


@dataclass
class PostFilter:
    status: tuple[str, ...] | str | None = None  # one state or several
    account: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int | None = 100


def list_posts(db: DbSession, actor: Actor, filters: PostFilter) -> list[PostView]:
    """Posts of the actor's team, soonest first, with destinations in two queries, not N."""
    from sqlmodel import col

    query = _post_query(db, actor, filters)
    query = query.order_by(col(Post.scheduled_at).is_(None), col(Post.scheduled_at), col(Post.id))
    if filters.limit:
        query = query.limit(filters.limit)
    posts = list(db.exec(query))
    return views_for(db, posts)


def count_posts(db: DbSession, actor: Actor, filters: PostFilter) -> int:
    """How many posts match `filters`, whatever the limit: lists say `100 of 120,000`."""
    from sqlalchemy import func, select

    inner = _post_query(db, actor, filters).subquery()
    return int(db.execute(select(func.count()).select_from(inner)).scalar_one())


def _post_query(db: DbSession, actor: Actor, filters: PostFilter) -> Any:
    from sqlmodel import col, select

    team_id = require(actor, "posts.read")
    query = select(Post).where(Post.team_id == team_id)
    if filters.status:
        wanted = (filters.status,) if isinstance(filters.status, str) else filters.status
        for status in wanted:
            if status not in list(PostState):
                raise InvalidInput(f"--status: {status!r} is not one of {', '.join(PostState)}")
        query = query.where(col(Post.status).in_(wanted))
    if filters.account:
        account = accounts_mod.resolve(db, team_id, filters.account)
        query = query.where(
            col(Post.id).in_(
                select(PostDestination.post_id).where(PostDestination.account_id == account.id)
            )
        )
    if filters.start:
        query = query.where(col(Post.scheduled_at) >= filters.start)
    if filters.end:
        query = query.where(col(Post.scheduled_at) < filters.end)
    return query


def views_for(db: DbSession, posts: Sequence[Post]) -> list[PostView]:
    from sqlmodel import col, select

    from autopostr.models import Team, User

    if not posts:
        return []
    ids = [p.id for p in posts]
    by_post: dict[int, list[tuple[PostDestination, SocialAccount]]] = {i: [] for i in ids if i}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        rows = db.exec(
            select(PostDestination, SocialAccount)
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .where(col(PostDestination.post_id).in_(chunk))
            .order_by(col(PostDestination.id))
        ).all()
        for dest, account in rows:
            by_post[dest.post_id].append((dest, account))
    media_by_post: dict[int, list[Media]] = {i: [] for i in ids if i}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        for link, item in db.exec(
            select(PostMedia, Media)
            .join(Media, col(Media.id) == col(PostMedia.media_id))
            .where(col(PostMedia.post_id).in_(chunk))
            .order_by(col(PostMedia.position))
        ).all():
            media_by_post[link.post_id].append(item)
    user_ids = {p.author_id for p in posts if p.author_id}
    emails = (
        {u.id: u.email for u in db.exec(select(User).where(col(User.id).in_(user_ids)))}
        if user_ids
        else {}
    )
    team_ids = {p.team_id for p in posts}
    teams = {t.id: t.name for t in db.exec(select(Team).where(col(Team.id).in_(team_ids)))}
    return [
        PostView(
            post=p,
            destinations=by_post.get(p.id or 0, []),
            media=media_by_post.get(p.id or 0, []),
            author_email=emails.get(p.author_id) if p.author_id else None,
            team_name=teams.get(p.team_id),
        )
        for p in posts
    ]


def _require_editable(post: Post, verb: str) -> None:
    if post.status not in EDITABLE_POSTS:
        raise Conflict(f"post {post.id} is {post.status}; only posts not yet sent can be {verb}")


def editable(db: DbSession, actor: Actor, post_id: int) -> Post:
    """The post `edit` would change, checked as it checks, before work is spent on a change
    (an AI request) that `edit` would then refuse."""
    post = get(db, require(actor, "posts.write"), post_id)
    _require_editable(post, "edited")
    return post


def schedule(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    post_id: int,
    at: datetime,
    now: datetime | None = None,
) -> Post:
    from autopostr.billing import limits as billing  # not needed to read posts

    team_id = require(actor, "posts.write")
    post = get(db, team_id, post_id)
    _require_editable(post, PostState.SCHEDULED)
    now = now or utcnow()
    _check_future(at, now, "WHEN")
    _revalidate(db, settings, post)
    _leave_queue(db, post_id)
    post.scheduled_at = at
    if approval.Approval.for_actor(db, actor).status_for(post.status, approval.SCHEDULE) != (
        PostState.SCHEDULED
    ):
        approval.hold_for_approval(db, post)
        audit.record(db, actor, "post.schedule", "post", post.id, at=at.isoformat(), held=True)
        return post
    billing.check_posts(db, settings, team_id, [at], exclude=post.id, now=now)
    post.status = PostState.SCHEDULED
    post.updated_at = now
    db.add(post)
    set_due(db, post, at)
    audit.record(db, actor, "post.schedule", "post", post.id, at=at.isoformat())
    notify_due(db)
    return post


def _leave_queue(db: DbSession, post_id: int) -> None:
    """A queued post given a time by hand (or made a draft again) frees its slot(s)."""
    from sqlalchemy import delete
    from sqlmodel import col

    from autopostr.models import QueueSlot

    db.execute(delete(QueueSlot).where(col(QueueSlot.post_id) == post_id))


def unschedule(db: DbSession, actor: Actor, post_id: int) -> Post:
    team_id = require(actor, "posts.write")
    post = get(db, team_id, post_id)
    if post.status != PostState.SCHEDULED:
        raise Conflict(f"post {post_id} is {post.status}, not scheduled")
    post.status = PostState.DRAFT
    post.updated_at = utcnow()
    db.add(post)
    set_due(db, post, None)
    _leave_queue(db, post_id)
    audit.record(db, actor, "post.unschedule", "post", post.id)
    return post


def _revalidate(db: DbSession, settings: Settings, post: Post) -> None:
    assert post.id is not None
    media = media_of(db, post.id)
    problems: list[str] = []
    for dest, account in destinations_of(db, post.id):
        if dest.status in WENT_OUT:
            continue
        problems += validate_destination(
            platform_for(account, settings),
            accounts_mod.label(account),
            dest.text or post.text,
            post.first_comment,
            media,
        )
    _raise_problems(problems)


def edit(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    post_id: int,
    *,
    text: str | None = None,
    at: datetime | None = None,
    first_comment: str | None = None,
    variants: dict[str, str] | None = None,
    add_to: Sequence[str] = (),
    remove_from: Sequence[str] = (),
    add_media: Sequence[str] = (),
    remove_media: Sequence[str] = (),
    now: datetime | None = None,
) -> Post:
    from autopostr.billing import limits as billing  # not needed to read posts

    team_id = require(actor, "posts.write")
    post = get(db, team_id, post_id)
    _require_editable(post, "edited")
    assert post.id is not None
    now = now or utcnow()
    if text is not None:
        post.text = text.strip()
    if first_comment is not None:
        post.first_comment = first_comment.strip() or None
    current = {account.id: (dest, account) for dest, account in destinations_of(db, post.id)}
    for name in remove_from:
        account = accounts_mod.resolve(db, team_id, name)
        if account.id not in current:
            raise InvalidInput(f"--remove {name}: the post does not go to that account")
        db.delete(current.pop(account.id)[0])
    for spec in _resolve_destinations(db, team_id, add_to, {}) if add_to else []:
        if spec.account.id not in current:
            dest = PostDestination(
                post_id=post.id,
                account_id=spec.account.id or 0,
                due_at=post.scheduled_at if post.status == PostState.SCHEDULED else None,
                idempotency_key=uuid.uuid4().hex,
            )
            db.add(dest)
            current[spec.account.id] = (dest, spec.account)
    for name, variant in (variants or {}).items():
        account = accounts_mod.resolve(db, team_id, name)
        if account.id not in current:
            raise InvalidInput(f"--variant {name}: the post does not go to that account")
        dest = current[account.id][0]
        dest.text = variant.strip() or None
        db.add(dest)
    if not current:
        raise InvalidInput("a post needs at least one destination")
    if add_media or remove_media:
        _edit_media(db, actor, settings, post, add_media, remove_media)
    db.flush()
    _revalidate(db, settings, post)
    if at is not None:
        _check_future(at, now)
        if post.status == PostState.SCHEDULED:
            billing.check_posts(db, settings, team_id, [at], exclude=post.id, now=now)
        post.scheduled_at = at
        if post.status == PostState.SCHEDULED:
            set_due(db, post, at)
            notify_due(db)
    # The import key stays what it was: re-importing the file the post came from must
    # recognise it however it was edited since.
    post.updated_at = now
    db.add(post)
    if approval.Approval.for_actor(db, actor).status_for(post.status, approval.EDIT) != (
        post.status
    ):
        approval.hold_for_approval(db, post)  # an edit after approval is approved again
    audit.record(db, actor, "post.edit", "post", post.id)
    return post


def _edit_media(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    post: Post,
    add: Sequence[str],
    remove: Sequence[str],
) -> None:
    """Detach `remove` (ids), attach `add` (ids or paths) at the end, keep the order."""
    from sqlmodel import col, select

    assert post.id is not None
    links = list(
        db.exec(
            select(PostMedia).where(PostMedia.post_id == post.id).order_by(col(PostMedia.position))
        )
    )
    for raw in remove:
        ref = str(raw).strip()
        link = next((x for x in links if ref.isdigit() and x.media_id == int(ref)), None)
        if link is None:
            raise InvalidInput(f"--remove-media {raw}: post {post.id} has no such media")
        links.remove(link)
        db.delete(link)
    db.flush()
    attached = {link.media_id for link in links}
    for item in _resolve_media(db, actor, settings, post.team_id, add, "--add-media"):
        if item.id not in attached:
            assert item.id is not None
            link = PostMedia(post_id=post.id, media_id=item.id)
            db.add(link)
            links.append(link)
            attached.add(item.id)
    for position, link in enumerate(links):
        link.position = position
        db.add(link)


def to_delete(db: DbSession, actor: Actor, post_id: int) -> PostView:
    """The post `posts delete` would delete, checked as it checks, before anyone is asked."""
    post = get(db, require(actor, "posts.write"), post_id)
    found = view(db, post)
    if any(dest.status == DestinationState.CLAIMED for dest, _ in found.destinations):
        raise Conflict(f"post {post_id} is being published right now; try again in a moment")
    return found


def delete(db: DbSession, actor: Actor, post_id: int) -> Post:
    team_id = require(actor, "posts.write")
    post = get(db, team_id, post_id)
    assert post.id is not None
    if any(dest.status == DestinationState.CLAIMED for dest, _ in destinations_of(db, post.id)):
        raise Conflict(f"post {post_id} is being published right now; try again in a moment")
    if post.origin == "import" and post.import_key:
        _remember_deleted_import(db, post)
    db.delete(post)
    audit.record(db, actor, "post.delete", "post", post_id)
    return post


def _remember_deleted_import(db: DbSession, post: Post) -> None:
    """A tombstone, so that the hourly re-import of the file does not bring the post back."""
    from autopostr.models import ImportTombstone

    assert post.import_key is not None
    if db.get(ImportTombstone, (post.team_id, post.import_key)) is None:
        db.add(ImportTombstone(team_id=post.team_id, import_key=post.import_key, post_id=post.id))


def make_due_now(db: DbSession, actor: Actor, settings: Settings, post_id: int) -> Post:
    """`posts publish`: the post becomes due now and goes out through the publisher."""
    from autopostr.billing import limits as billing  # not needed to read posts

    team_id = require(actor, "posts.write")
    post = get(db, team_id, post_id)
    _require_editable(post, "published now")
    approval.Approval.for_actor(db, actor).check_send_now(post)
    _revalidate(db, settings, post)
    now = utcnow()
    billing.check_posts(db, settings, team_id, [now], exclude=post.id, now=now)
    post.scheduled_at = now
    post.status = PostState.SCHEDULED
    post.updated_at = now
    db.add(post)
    set_due(db, post, now)
    audit.record(db, actor, "post.publish", "post", post.id)
    notify_due(db)
    return post


def retry(db: DbSession, actor: Actor, post_id: int) -> list[PostDestination]:
    """Send failed or unconfirmed destinations again: a person's decision, never automatic."""
    team_id = require(actor, "posts.write")
    post = get(db, team_id, post_id)
    assert post.id is not None
    approval.Approval.for_actor(db, actor).check_send_now(post, "sent again")
    now = utcnow()
    again = []
    for dest, _account in destinations_of(db, post.id):
        if dest.status in RETRYABLE:
            dest.status = DestinationState.PENDING
            dest.due_at = now
            dest.next_attempt_at = None
            dest.attempts = 0
            dest.error = None
            dest.updated_at = now
            db.add(dest)
            again.append(dest)
    if not again:
        raise Conflict(f"post {post_id} has nothing to retry (it is {post.status})")
    post.status = PostState.PUBLISHING
    post.updated_at = now
    db.add(post)
    audit.record(db, actor, "post.retry", "post", post.id, destinations=[d.id for d in again])
    notify_due(db)
    return again


# -- the approval workflow (the rule itself is approval.Approval) ------------------


def submit(db: DbSession, actor: Actor, post_id: int) -> Post:
    team_id = require(actor, "posts.write")
    post = get(db, team_id, post_id)
    team = db.get(Team, team_id)
    if not (team and team.approval_required):
        raise Conflict(
            "this team does not require approval: schedule the post with `autopostr posts schedule`"
        )
    if post.status not in (PostState.DRAFT, PostState.APPROVED):
        raise Conflict(f"post {post_id} is {post.status}; only drafts are submitted for approval")
    approval.hold_for_approval(db, post)
    audit.record(db, actor, "post.submit", "post", post.id)
    return post


def approve(
    db: DbSession,
    actor: Actor,
    post_id: int,
    comment: str | None = None,
    settings: Settings | None = None,
) -> Post:
    from autopostr.billing import limits as billing  # not needed to read posts

    team_id = require(actor, "posts.approve")
    post = get(db, team_id, post_id)
    if post.status != PostState.PENDING_APPROVAL:
        raise Conflict(f"post {post_id} is {post.status}, not pending approval")
    now = utcnow()
    post.review_comment = (comment or "").strip() or None
    post.updated_at = now
    if post.scheduled_at is not None and post.scheduled_at > now:
        if settings is None:
            from autopostr.config import load_settings

            settings = load_settings()
        billing.check_posts(db, settings, team_id, [post.scheduled_at], exclude=post.id, now=now)
        post.status = PostState.SCHEDULED
        set_due(db, post, post.scheduled_at)
        notify_due(db)
    else:
        # No time yet (or it passed while waiting): approved, to be scheduled.
        post.status = PostState.APPROVED
    db.add(post)
    audit.record(db, actor, "post.approve", "post", post.id, comment=post.review_comment)
    return post


def reject(db: DbSession, actor: Actor, post_id: int, comment: str) -> Post:
    team_id = require(actor, "posts.approve")
    if not comment.strip():
        raise InvalidInput("--comment: say why, so the author knows what to change")
    post = get(db, team_id, post_id)
    if post.status != PostState.PENDING_APPROVAL:
        raise Conflict(f"post {post_id} is {post.status}, not pending approval")
    post.status = PostState.DRAFT
    post.review_comment = comment.strip()
    post.updated_at = utcnow()
    db.add(post)
    audit.record(db, actor, "post.reject", "post", post.id, comment=post.review_comment)
    return post
