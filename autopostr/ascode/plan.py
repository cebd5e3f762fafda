"""`autopostr plan DIR`: what applying a content folder would do, post by post.

Each file is read, resolved (accounts, time, media) and checked as `posts create`
checks a post; every problem of every file is reported at once. The file's
content is then compared with the post its key made last time (`code_posts`):

- no such post: **create**;
- the same content: **unchanged**;
- different: **change**, with the fields that differ;
- the post went out: **published** (left as it is), unless the file says
  `republish: true`, which makes a new post (**republish**);
- the post was edited by hand since the last apply (its content no longer hashes
  to what that apply wrote): **conflict**, refused by `apply` without `--force`;
- a post of the folder whose file is gone: **keep**, or **delete** with
  `--prune` (one that went out is only let go of: **forget**);
- with `--as-approved`, a post waiting for approval whose file is unchanged:
  **approve**.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from autopostr import accounts as accounts_mod
from autopostr.ascode.files import FileError, PostFile, read_folder
from autopostr.config import Settings
from autopostr.errors import AutopostrError, InvalidInput, PermissionDenied
from autopostr.identity import Actor
from autopostr.models import CodePost, Media, Post, SocialAccount, Team, utcnow
from autopostr.permissions import require
from autopostr.posts import PostView, validate_destination, views_for
from autopostr.states import EDITABLE_POSTS, PostState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession


class Action(StrEnum):
    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    PUBLISHED = "published"  # went out: a change of its file is not applied
    REPUBLISH = "republish"  # went out, and the file asks for a new post
    CONFLICT = "conflict"  # edited by hand since the last apply
    KEEP = "keep"  # its file is gone; --prune deletes it
    FORGET = "forget"  # its file is gone and it went out: --prune lets go of it
    APPROVE = "approve"  # waiting for approval, approved by --as-approved


# What `apply` would write (and `plan --exit-code` exits 1 for). A conflict counts: the
# folder and the posts differ until someone decides.
CHANGES = frozenset(
    {
        Action.CREATE,
        Action.CHANGE,
        Action.DELETE,
        Action.REPUBLISH,
        Action.CONFLICT,
        Action.FORGET,
        Action.APPROVE,
    }
)
GIT = "git"  # teams.approval_by: a merged pull request counts as the approval


@dataclass(frozen=True)
class Content:
    """What a file says about a post, in the terms a post is stored in; a post's own
    content is read the same way, so the two compare field by field."""

    text: str
    accounts: tuple[str, ...]  # labels, sorted
    at: datetime | None
    status: str  # draft | scheduled (waiting for approval counts as scheduled)
    first_comment: str | None
    variants: tuple[tuple[str, str], ...]  # (label, text), sorted
    media: tuple[str, ...]  # sha256, in order
    labels: tuple[str, ...]

    def digest(self) -> str:
        """A hash of everything but the state: approving, rejecting or publishing a post is
        not an edit of it, changing its text, time, accounts or media is."""
        basis = [
            self.text,
            list(self.accounts),
            self.at.isoformat() if self.at else None,
            self.first_comment,
            [list(v) for v in self.variants],
            list(self.media),
            list(self.labels),
        ]
        return hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode()).hexdigest()


@dataclass
class FieldChange:
    field: str
    before: str | None
    after: str | None


@dataclass
class Desired:
    """A file resolved against the team: what its post should be."""

    file: PostFile
    content: Content
    accounts: list[SocialAccount]
    media: list[Media]
    timezone: str | None
    labels_json: str | None


@dataclass
class Item:
    key: str
    action: Action
    file: str | None = None  # relative path; None for a post whose file is gone
    post_id: int | None = None
    fields: list[FieldChange] = field(default_factory=list)
    note: str = ""
    desired: Desired | None = None
    status: str | None = None  # the post's state now


@dataclass
class Plan:
    root: str
    items: list[Item]
    prune: bool = False
    as_approved: bool = False
    force: bool = False
    records: dict[str, CodePost] = field(default_factory=dict)  # by key, as planned

    def counts(self) -> dict[str, int]:
        counts = {action.value: 0 for action in Action}
        for item in self.items:
            counts[item.action] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return any(item.action in CHANGES for item in self.items)

    def fingerprint(self) -> str:
        """What `apply` checks before writing: the plan a person confirmed is the plan
        that is applied, or nothing is."""
        basis = [
            [i.key, i.action.value, i.post_id, [[f.field, f.before, f.after] for f in i.fields]]
            for i in self.items
        ]
        return hashlib.sha256(json.dumps(basis).encode()).hexdigest()


class PlanRejected(InvalidInput):
    """Some files are invalid; nothing was planned or applied."""

    def __init__(self, root: str, errors: list[FileError]):
        self.errors = errors
        noun = "problem" if len(errors) == 1 else "problems"
        first = f" (first: {errors[0]})" if errors else ""
        super().__init__(f"{root}: {len(errors)} {noun} in the files, nothing was applied{first}")


def _labels_json(labels: Sequence[str]) -> str | None:
    return json.dumps(list(labels), ensure_ascii=False) if labels else None


def post_labels(labels: str | None) -> tuple[str, ...]:
    """`posts.labels` (a JSON array) as a tuple."""
    if not labels:
        return ()
    try:
        value = json.loads(labels)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def content_of(view: PostView) -> Content:
    """A post's content as a file would state it."""
    post = view.post
    return _content(
        _Row(post.status, post.text, post.scheduled_at, post.first_comment, post.labels),
        [(accounts_mod.label(a), d.text) for d, a in view.destinations],
        [m.sha256 for m in view.media],
    )


@dataclass
class _Row:
    status: str
    text: str
    at: datetime | None
    first_comment: str | None
    labels: str | None


def _content(
    post: _Row, destinations: Sequence[tuple[str, str | None]], media: Sequence[str]
) -> Content:
    labels = dict(destinations)
    return Content(
        text=post.text.strip(),
        accounts=tuple(sorted(labels)),
        at=post.at,
        status=(PostState.DRAFT if post.status == PostState.DRAFT else PostState.SCHEDULED).value,
        first_comment=(post.first_comment or "").strip() or None,
        variants=tuple(sorted((k, v.strip()) for k, v in labels.items() if v and v.strip())),
        media=tuple(media),
        labels=post_labels(post.labels),
    )


class MediaFiles:
    """Media named by path in the files: hashed once per run, found in the team's library
    by hash (an image used by fifty posts is stored once), else uploaded through
    `media.upload`, in the caller's transaction (`plan` rolls it back)."""

    def __init__(self, db: DbSession, actor: Actor, settings: Settings, team_id: int):
        self.db, self.actor, self.settings, self.team_id = db, actor, settings, team_id
        self.by_path: dict[Path, Media] = {}
        self.by_sha: dict[str, Media] | None = None

    def _library(self) -> dict[str, Media]:
        if self.by_sha is None:
            from sqlmodel import select

            self.by_sha = {
                m.sha256: m
                for m in self.db.exec(select(Media).where(Media.team_id == self.team_id))
            }
        return self.by_sha

    def get(self, path: Path, field_name: str, shown: str) -> Media:
        from autopostr import media as media_mod

        path = path.resolve()
        found = self.by_path.get(path)
        if found is not None:
            return found
        try:
            with path.open("rb") as handle:
                sha256, _size = media_mod.sha256_of(handle)
        except FileNotFoundError:
            raise InvalidInput(f"{field_name}: {shown} does not exist") from None
        except OSError as exc:
            raise InvalidInput(f"{field_name}: cannot read {shown}: {exc.strerror}") from None
        library = self._library()
        found = library.get(sha256)
        if found is None:
            found = media_mod.upload(
                self.db, self.actor, self.settings, path, field=field_name
            ).item
            library[found.sha256] = found
        self.by_path[path] = found
        return found


class _Resolver:
    """Resolves files with the caches the CSV import uses (accounts, platforms, zones)."""

    def __init__(
        self,
        db: DbSession,
        actor: Actor,
        settings: Settings,
        team_id: int,
        default_tz: str,
        now: datetime,
    ):
        from autopostr.csvio import Planner

        self.planner = Planner(db, team_id, settings, default_tz, now)
        self.default_tz = default_tz
        self.media = MediaFiles(db, actor, settings, team_id)
        self.now = now

    def resolve(self, post: PostFile, errors: list[FileError]) -> Desired | None:
        from autopostr.timeparse import zone

        before = len(errors)

        def problem(name: str, message: str) -> None:
            errors.append(FileError(post.path, post.line(name), message))

        accounts: list[SocialAccount] = []
        for index, name in enumerate(post.to):
            account = self.planner.account(name)
            where = f"to.{index}" if f"to.{index}" in post.lines else "to"
            if account is None:
                problem(
                    where,
                    f"to: {name.strip()!r} is not an account of this team "
                    "(see `autopostr accounts list`)",
                )
            elif account.status != accounts_mod.ACTIVE:
                problem(where, f"to: {name.strip()} is {account.status}")
            elif all(account.id != other.id for other in accounts):
                accounts.append(account)
        labels = {account.id: accounts_mod.label(account) for account in accounts}
        variants: dict[str, str] = {}
        for name, text in post.variants.items():
            account = self.planner.account(name)
            if account is None or account.id not in labels:
                problem(f"variants.{name}", f"variants: {name} is not one of the `to` accounts")
            elif text:
                variants[labels[account.id]] = text
        tz_name = post.timezone or self.default_tz
        at: datetime | None = None
        if post.timezone:
            try:
                zone(post.timezone, "timezone")
            except AutopostrError as exc:
                problem("timezone", exc.message)
        if post.queue:
            problem("queue", "queue: this autopostr has no queue slots; give a time with `at`")
        if post.at:
            if post.at.lstrip().startswith("+"):
                problem(
                    "at",
                    f"at: {post.at} would move every time the folder is applied; "
                    "give a date and time such as 2026-12-01 09:00",
                )
            else:
                try:
                    at = self.planner.when(post.at, tz_name)
                except AutopostrError as exc:
                    problem("at", exc.message)
        status = post.status or (PostState.SCHEDULED if post.at else PostState.DRAFT).value
        if status == PostState.SCHEDULED and not post.at and not post.queue:
            problem("status", "status: scheduled needs a time in `at`")
        media: list[Media] = []
        for index, raw in enumerate(post.media):
            name = f"media.{index}" if f"media.{index}" in post.lines else "media"
            path = Path(raw).expanduser()
            if not path.is_absolute():
                path = post.source.parent / path
            try:
                item = self.media.get(path, "media", raw)
            except AutopostrError as exc:
                problem(name, exc.message)
                continue
            if all(item.sha256 != other.sha256 for other in media):
                media.append(item)
        if not post.text and not media:
            errors.append(FileError(post.path, post.body_line, "the text is empty"))
        for account in accounts:
            label = labels[account.id]
            for message in validate_destination(
                self.planner.platform(account),
                label,
                variants.get(label, post.text),
                post.first_comment,
                media,
            ):
                errors.append(FileError(post.path, post.body_line, message))
        if len(errors) != before:
            return None
        content = Content(
            text=post.text,
            accounts=tuple(sorted(labels.values())),
            at=at,
            status=status,
            first_comment=post.first_comment,
            variants=tuple(sorted(variants.items())),
            media=tuple(m.sha256 for m in media),
            labels=tuple(post.labels),
        )
        return Desired(
            post, content, accounts, media, tz_name if post.at else None, _labels_json(post.labels)
        )


def _show_time(at: datetime | None, zone_name: str | None) -> str | None:
    if at is None:
        return None
    try:
        local = at.astimezone(ZoneInfo(zone_name)) if zone_name else at
    except (KeyError, ValueError):
        local = at
    return local.isoformat(timespec="minutes")


def diff(view: PostView, desired: Desired) -> list[FieldChange]:
    """The fields whose values differ, as people read them."""
    have, want = content_of(view), desired.content
    zone_name = desired.timezone or view.post.timezone
    changes: list[FieldChange] = []

    def add(name: str, before: str | None, after: str | None) -> None:
        if before != after:
            changes.append(FieldChange(name, before, after))

    add("text", have.text, want.text)
    add("at", _show_time(have.at, zone_name), _show_time(want.at, zone_name))
    add("to", ", ".join(have.accounts), ", ".join(want.accounts))
    add("status", have.status, want.status)
    add("first_comment", have.first_comment, want.first_comment)
    add(
        "variants",
        "; ".join(f"{k}: {v}" for k, v in have.variants) or None,
        "; ".join(f"{k}: {v}" for k, v in want.variants) or None,
    )
    if have.media != want.media:
        add(
            "media",
            ", ".join(m.filename for m in view.media) or None,
            ", ".join(m.filename for m in desired.media) or None,
        )
    add("labels", ", ".join(have.labels) or None, ", ".join(want.labels) or None)
    return changes


def check_as_approved(db: DbSession, actor: Actor) -> None:
    """`--as-approved`: an owner's run (a CI token of an owner), in a team that counts a
    merged pull request as the approval."""
    team = db.get(Team, actor.team_id) if actor.team_id is not None else None
    if actor.role != "owner":
        raise PermissionDenied(
            f"--as-approved: only an owner's apply counts as the approval; you are {actor.role}"
        )
    if team is None or team.approval_by != GIT:
        raise PermissionDenied(
            "--as-approved: this team does not count a merged pull request as the approval; "
            "an owner turns that on with `autopostr team settings --approval-by git`"
        )


# Where the plan shows the fields that differ.
DIFFERING = frozenset({Action.CHANGE, Action.CONFLICT, Action.PUBLISHED, Action.REPUBLISH})


@dataclass
class Current:
    """A post of the folder as it is now, read for comparing only."""

    post_id: int
    status: str
    content: Content


def current_posts(db: DbSession, ids: Sequence[int]) -> dict[int, Current]:
    """The posts' content in three queries per thousand posts, read as plain rows (whole
    ORM objects for 5,000 posts cost more than everything else a plan does)."""
    from sqlalchemy import select as sa_select
    from sqlmodel import col

    from autopostr.models import PostDestination, PostMedia

    rows: dict[int, tuple[_Row, list[tuple[str, str | None]], list[str]]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 1000):
        chunk = unique[start : start + 1000]
        for post_id, status, text, at, first, labels in db.execute(
            sa_select(
                col(Post.id),
                col(Post.status),
                col(Post.text),
                col(Post.scheduled_at),
                col(Post.first_comment),
                col(Post.labels),
            ).where(col(Post.id).in_(chunk))
        ):
            rows[post_id] = (_Row(status, text, at, first, labels), [], [])
        for post_id, platform, handle, text in db.execute(
            sa_select(
                col(PostDestination.post_id),
                col(SocialAccount.platform),
                col(SocialAccount.handle),
                col(PostDestination.text),
            )
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .where(col(PostDestination.post_id).in_(chunk))
        ):
            rows[post_id][1].append((f"{platform}:{handle}", text))
        for post_id, sha in db.execute(
            sa_select(col(PostMedia.post_id), col(Media.sha256))
            .join(Media, col(Media.id) == col(PostMedia.media_id))
            .where(col(PostMedia.post_id).in_(chunk))
            .order_by(col(PostMedia.post_id), col(PostMedia.position))
        ):
            rows[post_id][2].append(sha)
    return {
        post_id: Current(post_id, post.status, _content(post, dests, media))
        for post_id, (post, dests, media) in rows.items()
    }


def records(db: DbSession, team_id: int) -> dict[str, CodePost]:
    from sqlmodel import select

    return {r.key: r for r in db.exec(select(CodePost).where(CodePost.team_id == team_id))}


def build(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    root: Path,
    *,
    default_tz: str,
    prune: bool = False,
    as_approved: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> Plan:
    """The plan; raises PlanRejected naming every problem of every file. Media files new
    to the library are uploaded in the caller's transaction (roll it back to plan only)."""
    team_id = require(actor, "posts.write")
    if as_approved:
        check_as_approved(db, actor)
    if not root.is_dir():
        raise InvalidInput(f"{root}: not a folder of Markdown posts")
    now = now or utcnow()
    files, errors = read_folder(root)
    seen: dict[str, str] = {}
    for post in list(files):
        if post.key in seen:
            errors.append(
                FileError(
                    post.path,
                    post.line("id"),
                    f"id: {post.key!r} is also the key of {seen[post.key]}",
                )
            )
            files.remove(post)
        else:
            seen[post.key] = post.path
    resolver = _Resolver(db, actor, settings, team_id, default_tz, now)
    desired = [d for d in (resolver.resolve(post, errors) for post in files) if d is not None]
    known = records(db, team_id)
    current = current_posts(db, [r.post_id for r in known.values()])
    items: list[Item] = []
    for want in desired:
        record = known.get(want.file.key)
        now_is = current.get(record.post_id) if record else None
        item = _classify(want, record, now_is, force, as_approved)
        if item.action in (Action.CREATE, Action.REPUBLISH, Action.CHANGE):
            _check_time(item, want, now_is, now, errors)
        items.append(item)
    # Field by field only where something differs: reading whole posts costs more than
    # comparing them.
    differing = [i for i in items if i.action in DIFFERING and i.post_id is not None]
    views = {v.post.id: v for v in views_for(db, _posts(db, [i.post_id or 0 for i in differing]))}
    for item in differing:
        assert item.desired is not None
        item.fields = diff(views[item.post_id], item.desired)
    gone: dict[str, str] = {}  # content digest -> key, of unsent posts whose file is gone
    for key, record in sorted(known.items()):
        if key in seen:
            continue
        found = current.get(record.post_id)
        status = found.status if found else None
        went_out = status is not None and status not in EDITABLE_POSTS
        if not prune:
            action = Action.KEEP
        else:
            action = Action.FORGET if went_out else Action.DELETE
        items.append(Item(key, action, post_id=record.post_id, status=status))
        if found is not None and found.status in EDITABLE_POSTS:
            gone[found.content.digest()] = key
    _name_renames(items, gone)
    if errors:
        errors.sort(key=lambda e: (e.path, e.line))
        raise PlanRejected(str(root), errors)
    return Plan(str(root), items, prune=prune, as_approved=as_approved, force=force, records=known)


def _name_renames(items: list[Item], gone: dict[str, str]) -> None:
    """A new file with the very content of a post whose file is gone was most likely
    renamed: without `id:` (or --prune) both posts would go out."""
    for item in items:
        if item.action == Action.CREATE and item.desired is not None:
            old = gone.get(item.desired.content.digest())
            if old is not None:
                item.note = (
                    f"the same post as {old}, whose file is gone: if the file was renamed, "
                    f"give it `id: {old}` (or apply --prune to delete the old post)"
                )


def _posts(db: DbSession, ids: Sequence[int]) -> list[Post]:
    from sqlmodel import col, select

    found: list[Post] = []
    unique = sorted(set(ids))
    for start in range(0, len(unique), 1000):
        chunk = unique[start : start + 1000]
        found.extend(db.exec(select(Post).where(col(Post.id).in_(chunk))))
    return found


def _classify(
    want: Desired,
    record: CodePost | None,
    current: Current | None,
    force: bool,
    as_approved: bool,
) -> Item:
    key, path = want.file.key, want.file.path
    if record is None or current is None:
        return Item(key, Action.CREATE, path, desired=want)
    have = current.content
    base = Item(key, Action.UNCHANGED, path, current.post_id, desired=want, status=current.status)
    if current.status not in EDITABLE_POSTS:
        if have.digest() == want.content.digest():
            return base
        if want.file.republish:
            base.action, base.note = Action.REPUBLISH, f"post {current.post_id} is {current.status}"
        else:
            base.action = Action.PUBLISHED
            base.note = f"{current.status}: not changed (add `republish: true` to post it again)"
        return base
    if have == want.content:
        if as_approved and current.status == PostState.PENDING_APPROVAL:
            base.action, base.note = Action.APPROVE, "approved by the merged pull request"
        return base
    if have.digest() != record.content_hash and not force:
        base.action = Action.CONFLICT
        base.note = "edited by hand since the last apply (apply --force makes it the file's)"
        return base
    base.action = Action.CHANGE
    return base


def _check_time(
    item: Item, want: Desired, current: Current | None, now: datetime, errors: list[FileError]
) -> None:
    """A time in the past is refused where the post would be scheduled at it now: a new
    post, or a changed time (as `posts create` and `posts edit` refuse it)."""
    at = want.content.at
    if at is None or want.content.status != PostState.SCHEDULED or at > now:
        return
    if (
        current is not None
        and item.action == Action.CHANGE
        and current.content.at == at
        and current.status != PostState.DRAFT
    ):
        return
    errors.append(
        FileError(
            want.file.path,
            want.file.line("at"),
            f"at: {want.file.at} is in the past; give a later time",
        )
    )
