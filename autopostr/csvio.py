"""CSV (and JSON) import and export of posts: validate everything, then import in one go.

A file is read and checked whole before anything is written; one bad row means
nothing is imported and every bad row is reported with its line. Re-importing
the same file creates nothing new: each post is keyed by its `external_id`,
else by a hash of its text, accounts and time, so a cron job can import the
same file every hour. Rows are inserted in bulk (one statement per table), not
one ORM object at a time.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from autopostr import accounts as accounts_mod
from autopostr import approval, audit
from autopostr.config import Settings
from autopostr.errors import AutopostrError, InvalidInput
from autopostr.identity import Actor
from autopostr.models import Media, Post, SocialAccount, utcnow
from autopostr.permissions import require
from autopostr.posts import content_key, validate_destination
from autopostr.states import DestinationState, PostState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

    from autopostr.platforms.base import Platform

QUEUE = "queue"  # the `at` of a row that takes the next free slot
COLUMNS = (
    "text",
    "accounts",
    "at",
    "timezone",
    "media",
    "first_comment",
    "status",
    "external_id",
    "variants",
)
DELIMITERS = (",", ";", "\t")  # German and French spreadsheets save with ;
# Rows of an export that went out already: history, never sent again by an import.
HISTORY_STATES = (PostState.PUBLISHED, PostState.PARTIALLY_PUBLISHED, PostState.FAILED)
REQUIRED = ("text", "accounts")
IMPORT_STATES = (PostState.DRAFT, PostState.SCHEDULED)
KEY_CHUNK = 1000

Progress = Callable[[int], None]


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRejected(InvalidInput):
    """The file has bad rows; nothing was imported."""

    def __init__(self, source: str, errors: list[RowError]):
        self.errors = errors
        noun = "row" if len(errors) == 1 else "rows"
        first = f" ({errors[0]})" if errors else ""
        super().__init__(f"{source}: {len(errors)} bad {noun}, nothing was imported{first}")


@dataclass
class SourceRow:
    line: int
    values: dict[str, str]


@dataclass
class PlannedPost:
    line: int
    text: str
    accounts: list[SocialAccount]
    at: datetime | None
    timezone: str | None
    media: list[Media]
    first_comment: str | None
    status: str
    external_id: str | None
    import_key: str
    variants: dict[int, str] = field(default_factory=dict)  # account id -> its own text
    labels: str | None = None  # a JSON array of strings
    queued: bool = False  # `at` = queue: the next free slot, given after the insert


@dataclass
class PlannedRow:
    """What a row resolved to, for `--dry-run` to show: its time and its accounts."""

    line: int
    at: datetime | None
    timezone: str | None
    accounts: list[str]
    status: str


# Why a row of a re-imported file creates nothing.
HISTORY = "already went out (history is not sent again)"
ALREADY_IMPORTED = "already imported"
CHANGED_SINCE = "changed since"  # the post was edited after the import (or the row was)
DELETED_SINCE = "deleted since"  # someone deleted the imported post: it stays deleted
SAME_AS_LINE = "same as line"  # a repeated row of this file


@dataclass
class SkippedRow:
    line: int
    reason: str
    post: str | None = None  # the post the row matched, if it still exists

    def __str__(self) -> str:
        which = f" (post {self.post})" if self.post else ""
        return f"line {self.line}: {self.reason}{which}"


@dataclass
class RowIdentity:
    """What a row is, as far as re-imports go: its key and the content it was made of."""

    key: str
    text: str
    account_ids: frozenset[int]
    at: datetime | None


@dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0
    dry_run: bool = False
    rows: int = 0
    post_ids: list[str] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)
    skipped_rows: list[SkippedRow] = field(default_factory=list)
    pending_approval: int = 0  # created rows that wait for an owner's approval
    planned: list[PlannedRow] = field(default_factory=list)  # each new row, resolved
    warnings: list[str] = field(default_factory=list)  # e.g. a zone given as `EST`

    def skip(self, row: SkippedRow) -> None:
        self.skipped += 1
        self.skipped_lines.append(row.line)
        self.skipped_rows.append(row)

    def skipped_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.skipped_rows:
            counts[row.reason] = counts.get(row.reason, 0) + 1
        return counts


def read_rows(raw: bytes, source: str) -> list[SourceRow]:
    """Rows of a CSV or JSON file with their line numbers; the header is checked here."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInput(f"{source}: line {line} is not UTF-8; save the file as UTF-8") from None
    if not text.strip():
        raise InvalidInput(
            f"{source}: the file is empty; it needs a header row: {','.join(COLUMNS)}"
        )
    if source.lower().endswith(".json") or text.lstrip().startswith("["):
        return _json_rows(text, source)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except csv.Error as exc:
        raise InvalidInput(f"{source}: line 1: {exc}") from None
    _check_header(header, source)
    rows: list[SourceRow] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) > len(header):
                    raise InvalidInput(
                        f"{source}: line {start}: {len(record)} fields, the header has {len(header)}"
                    )
                rows.append(SourceRow(start, dict(zip(header, record, strict=False))))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"{source}: line {start}: {exc}") from None
    return rows


def _delimiter(text: str) -> str:
    """The header row's separator: the one of `DELIMITERS` that splits it into the most
    known column names (a comma when none does better)."""
    first = text.split("\n", 1)[0]

    def known(delimiter: str) -> int:
        names = next(csv.reader([first], delimiter=delimiter), [])
        return sum(1 for name in names if name.strip().lower() in COLUMNS)

    return max(DELIMITERS, key=lambda d: (known(d), d == ","))


def _check_header(header: Sequence[str], source: str) -> None:
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise InvalidInput(
            f"{source}: unknown column(s) {', '.join(repr(u) for u in unknown)}; "
            f"the columns are {', '.join(COLUMNS)}"
        )
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InvalidInput(f"{source}: missing required column(s) {', '.join(missing)}")
    duplicated = sorted({name for name in header if list(header).count(name) > 1})
    if duplicated:
        raise InvalidInput(f"{source}: column(s) {', '.join(duplicated)} appear twice")


def _json_rows(text: str, source: str) -> list[SourceRow]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InvalidInput(
            f"{source}: a JSON import is an array of objects with {', '.join(COLUMNS)}"
        )
    keys = {key.lower() for item in data for key in item}
    _check_header(sorted(keys) if data else list(REQUIRED), source)
    rows = []
    for index, item in enumerate(data, start=1):
        values = {}
        for key, value in item.items():
            if isinstance(value, list):
                value = ";".join(str(v) for v in value)
            values[key.lower()] = "" if value is None else str(value)
        rows.append(SourceRow(index, values))
    return rows


class Planner:
    """Validates rows against the team's accounts and their platforms, with caches."""

    def __init__(
        self, db: DbSession, team_id: int, settings: Settings, default_tz: str, now: datetime
    ):
        from sqlmodel import select

        from autopostr.platforms.registry import get_platform

        self.db = db
        self.settings = settings
        self.now = now
        self.default_tz = default_tz
        self.by_name: dict[str, SocialAccount] = {}
        self.labels: dict[int, str] = {}
        for account in db.exec(select(SocialAccount).where(SocialAccount.team_id == team_id)):
            self.labels[account.id or 0] = accounts_mod.label(account)
            self.by_name[str(account.id)] = account
            self.by_name[self.labels[account.id or 0].lower()] = account
        self.platforms: dict[str, Platform] = {}
        self._get_platform = get_platform
        self.zones: dict[str, ZoneInfo] = {}
        self.times: dict[tuple[str, str], datetime] = {}
        self.team_id = team_id
        self.media: dict[str, Media | None] = {}
        self.actor: Actor | None = None
        self.base_dir: Path | None = None
        self.date_format: str | None = None
        self.warnings: dict[str, str] = {}  # zone abbreviation → its warning, once each
        self.queued_ok: set[int] = set()

    def platform(self, account: SocialAccount) -> Platform:
        found = self.platforms.get(account.platform)
        if found is None:
            found = self.platforms[account.platform] = self._get_platform(
                account.platform, self.settings
            )
        return found

    def account(self, name: str) -> SocialAccount | None:
        name = name.strip().lstrip("@")
        if ":" in name:
            platform, _, handle = name.partition(":")
            name = f"{platform.strip().lower()}:{handle.strip().lstrip('@').lower()}"
        return self.by_name.get(name)

    def media_item(self, raw: str) -> Media | None:
        """A media id of the team, or a file (relative to the CSV's folder) uploaded now,
        inside the import's transaction: a rejected import leaves no media behind."""
        if raw not in self.media:
            if raw.isdigit():
                item = self.db.get(Media, int(raw))
                self.media[raw] = (
                    item if item is not None and item.team_id == self.team_id else None
                )
            else:
                from autopostr import media as media_mod

                path = Path(raw).expanduser()
                if not path.is_absolute() and self.base_dir is not None:
                    path = self.base_dir / path
                assert self.actor is not None
                self.media[raw] = media_mod.upload(
                    self.db, self.actor, self.settings, path, field="media"
                ).item
        return self.media[raw]

    def queue_problems(self, accounts: Sequence[SocialAccount]) -> list[str]:
        from autopostr.schedule.queueing import queue_of

        problems = []
        for account in accounts:
            if account.id not in self.queued_ok:
                if queue_of(self.db, account) is None:
                    label = self.labels[account.id or 0]
                    problems.append(
                        f"at: {label} has no posting slots (`autopostr queue slots set {label} …`)"
                    )
                    continue
                self.queued_ok.add(account.id or 0)
        return problems

    def when(self, raw_at: str, tz_name: str) -> datetime:
        from autopostr.timeparse import parse_when, parse_with_format

        self.zone(tz_name)
        cache_key = (raw_at, tz_name)
        at = self.times.get(cache_key)
        if at is None:
            if self.date_format:
                at = parse_with_format(raw_at, self.date_format, tz_name, self.now, "at")
            else:
                at = parse_when(raw_at, tz_name, self.now, "at")
            self.times[cache_key] = at
        return at

    def zone(self, tz_name: str) -> ZoneInfo:
        from autopostr.timeparse import abbreviation_warning, zone

        if tz_name not in self.zones:
            self.zones[tz_name] = zone(tz_name, "timezone")
            warning = abbreviation_warning(tz_name, "timezone")
            if warning:
                self.warnings[tz_name] = warning
        return self.zones[tz_name]

    def variants(
        self, raw: str, chosen: list[SocialAccount], problems: list[str]
    ) -> dict[int, str]:
        """The `variants` column: {"x:acme": "its own text"} for accounts of the row."""
        if not raw:
            return {}
        example = 'a JSON object such as {"x:acme": "Shorter text"}'
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            problems.append(f"variants: not {example}")
            return {}
        found: dict[int, str] = {}
        for name, text in parsed.items():
            account = self.account(str(name))
            if account is None or all(account.id != a.id for a in chosen):
                problems.append(f"variants: {name!r} is not one of this row's accounts")
            else:
                found[account.id or 0] = str(text)
        return found

    def identity(self, row: SourceRow) -> RowIdentity | None:
        """The row's import key, read before any other check, so that a row imported an
        hour ago is recognised even though its time has passed since. None when the row
        cannot be keyed (an unknown account, an unreadable time): it is then new, and the
        full check says what is wrong with it."""
        v = row.values
        text = v.get("text", "").strip()
        external_id = v.get("external_id", "").strip() or None
        chosen: dict[int, SocialAccount] = {}
        readable = True
        for name in (v.get("accounts") or "").split(";"):
            if name.strip():
                account = self.account(name)
                if account is None:
                    readable = False
                else:
                    chosen.setdefault(account.id or 0, account)
        at: datetime | None = None
        raw_at = v.get("at", "").strip()
        if raw_at and raw_at.lower() != QUEUE:
            try:
                at = self.when(raw_at, v.get("timezone", "").strip() or self.default_tz)
            except AutopostrError:
                readable = False
        if external_id is None and not (readable and chosen):
            return None
        key = external_id or content_key(
            text, [self.labels[account_id] for account_id in chosen], at
        )
        return RowIdentity(key, text, frozenset(chosen), at)

    def plan(self, row: SourceRow) -> PlannedPost:

        v = row.values
        problems: list[str] = []
        text = v.get("text", "").strip()
        names = [n for n in (v.get("accounts") or "").split(";") if n.strip()]
        if not names:
            problems.append("accounts: name at least one account, e.g. x:acme;bluesky:acme")
        chosen: list[SocialAccount] = []
        for name in names:
            account = self.account(name)
            if account is None:
                problems.append(f"accounts: {name.strip()!r} is not an account of this team")
            elif account.status != accounts_mod.ACTIVE:
                problems.append(f"accounts: {name.strip()} is {account.status}")
            elif all(account.id != other.id for other in chosen):
                chosen.append(account)
        tz_name = v.get("timezone", "").strip() or self.default_tz
        status = v.get("status", "").strip().lower()
        at: datetime | None = None
        raw_at = v.get("at", "").strip()
        queued = raw_at.lower() == QUEUE
        try:
            if queued:
                problems += self.queue_problems(chosen)
            elif raw_at:
                at = self.when(raw_at, tz_name)
            else:
                self.zone(tz_name)
        except AutopostrError as exc:
            problems.append(exc.message)
        if status and status not in IMPORT_STATES:
            problems.append(f"status: {status!r} is not draft or scheduled")
        if not status:
            status = PostState.SCHEDULED if at or queued else PostState.DRAFT
        if queued and status != PostState.SCHEDULED:
            problems.append("status: a row with at = queue is scheduled (leave status empty)")
        if status == PostState.SCHEDULED and at is None and not raw_at:
            problems.append("status: scheduled needs a time in the at column")
        if status == PostState.SCHEDULED and at is not None and at <= self.now:
            problems.append(f"at: {raw_at} is in the past")
        media: list[Media] = []
        for raw in [m.strip() for m in (v.get("media") or "").split(";") if m.strip()]:
            item = self.media_item(raw)
            if item is None:
                problems.append(
                    f"media: {raw!r} is not a media id of this team (see `autopostr media list`)"
                )
            elif all(item.id != other.id for other in media):
                media.append(item)
        first_comment = v.get("first_comment", "").strip() or None
        variants = self.variants(v.get("variants", "").strip(), chosen, problems)
        for account in chosen:
            own = variants.get(account.id or 0, text)
            problems += validate_destination(
                self.platform(account), self.labels[account.id or 0], own, first_comment, media
            )
        if problems:
            raise InvalidInput("; ".join(problems))
        external_id = v.get("external_id", "").strip() or None
        labels = [self.labels[a.id or 0] for a in chosen]
        return PlannedPost(
            line=row.line,
            text=text,
            accounts=chosen,
            at=at,
            timezone=tz_name if raw_at else None,
            media=media,
            first_comment=first_comment,
            status=status,
            external_id=external_id,
            import_key=external_id or content_key(text, labels, at),
            variants=variants,
            queued=queued,
        )


@dataclass
class _Imported:
    """A post a key of this file already made, as it is now."""

    post_id: int
    text: str
    at: datetime | None
    account_ids: set[int] = field(default_factory=set)


def _already_imported(db: DbSession, team_id: int, keys: Sequence[str]) -> dict[str, _Imported]:
    from sqlalchemy import select as sa_select
    from sqlmodel import col, select

    from autopostr.models import PostDestination

    found: dict[str, _Imported] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), KEY_CHUNK):
        chunk = unique[start : start + KEY_CHUNK]
        # By key alone, so the import_key index is used; the team is checked here
        # (filtering on team_id in SQL made SQLite scan the whole team per chunk).
        rows = db.execute(
            sa_select(
                col(Post.import_key),
                col(Post.team_id),
                col(Post.id),
                col(Post.text),
                col(Post.scheduled_at),
            ).where(col(Post.import_key).in_(chunk))
        )
        for key, team, post_id, text, at in rows:
            if key and team == team_id and key not in found:
                found[key] = _Imported(post_id or 0, text, at)
    by_post = {imported.post_id: imported for imported in found.values()}
    ids = sorted(by_post)
    for start in range(0, len(ids), KEY_CHUNK):
        chunk_ids = ids[start : start + KEY_CHUNK]
        for post_id, account_id in db.exec(
            select(PostDestination.post_id, PostDestination.account_id).where(
                col(PostDestination.post_id).in_(chunk_ids)
            )
        ):
            by_post[post_id].account_ids.add(account_id)
    return found


def _deleted_keys(db: DbSession, team_id: int, keys: Sequence[str]) -> set[str]:
    from sqlmodel import col, select

    from autopostr.models import ImportTombstone

    found: set[str] = set()
    unique = sorted(set(keys))
    for start in range(0, len(unique), KEY_CHUNK):
        chunk = unique[start : start + KEY_CHUNK]
        found.update(
            db.exec(
                select(ImportTombstone.import_key).where(
                    ImportTombstone.team_id == team_id, col(ImportTombstone.import_key).in_(chunk)
                )
            )
        )
    return found


def _forget_deleted(db: DbSession, team_id: int, keys: Sequence[str]) -> None:
    from sqlmodel import col, delete

    from autopostr.models import ImportTombstone

    for start in range(0, len(keys), KEY_CHUNK):
        db.exec(
            delete(ImportTombstone).where(
                col(ImportTombstone.team_id) == team_id,
                col(ImportTombstone.import_key).in_(keys[start : start + KEY_CHUNK]),
            )
        )


def _why_skipped(
    line: int,
    identity: RowIdentity,
    imported: dict[str, _Imported],
    deleted: set[str],
    first_line: dict[str, int],
) -> SkippedRow | None:
    """Why this row makes nothing, or None when it is new."""
    match = imported.get(identity.key)
    if match is not None:
        unchanged = (
            match.text.strip() == identity.text
            and match.account_ids == identity.account_ids
            and match.at == identity.at
        )
        return SkippedRow(
            line, ALREADY_IMPORTED if unchanged else CHANGED_SINCE, str(match.post_id)
        )
    if identity.key in deleted:
        return SkippedRow(line, DELETED_SINCE)
    if identity.key in first_line:
        return SkippedRow(line, f"{SAME_AS_LINE} {first_line[identity.key]}")
    return None


def lock_team_imports(db: DbSession, team_id: int) -> None:
    """Two imports of one file at once must not both create its posts."""
    from sqlalchemy import text

    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(4242, :team)"), {"team": team_id})
    # SQLite: every transaction already holds the write lock (BEGIN IMMEDIATE).


def import_rows(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    rows: Sequence[SourceRow],
    *,
    source: str,
    default_tz: str,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
    base_dir: Path | None = None,
    include_deleted: bool = False,
    date_format: str | None = None,
) -> ImportResult:
    """Import the rows, all or none. `include_deleted` brings back rows whose posts were
    deleted since (restoring a backup); otherwise a deletion sticks. `date_format`
    (strftime) reads the `at` column as a spreadsheet wrote it, instead of guessing.
    Rows of an export that went out (published, failed) are history: skipped, with
    the reason."""
    team_id = require(actor, "posts.write")
    now = now or utcnow()
    gate = approval.Approval.for_actor(db, actor)
    planner = Planner(db, team_id, settings, default_tz, now)
    planner.actor, planner.base_dir, planner.date_format = actor, base_dir, date_format
    # Keys first, under the team's import lock: a row imported before is skipped
    # whatever has happened since (its time passed, its post was edited or deleted),
    # and only new rows are checked as new.
    lock_team_imports(db, team_id)
    identities = [planner.identity(row) for row in rows]
    keys = [identity.key for identity in identities if identity is not None]
    imported = _already_imported(db, team_id, keys)
    deleted = set() if include_deleted else _deleted_keys(db, team_id, keys)

    result = ImportResult(dry_run=dry_run, rows=len(rows))
    errors: list[RowError] = []
    fresh: list[PlannedPost] = []
    first_line: dict[str, int] = {}
    external_line: dict[str, int] = {}
    for index, (row, identity) in enumerate(zip(rows, identities, strict=True), start=1):
        external_id = row.values.get("external_id", "").strip()
        if external_id in external_line:
            errors.append(
                RowError(
                    row.line,
                    f"external_id: {external_id!r} already used on line {external_line[external_id]}",
                )
            )
            continue
        if external_id:
            external_line[external_id] = row.line
        if row.values.get("status", "").strip().lower() in HISTORY_STATES:
            result.skip(SkippedRow(row.line, HISTORY))
            continue
        skipped = identity and _why_skipped(row.line, identity, imported, deleted, first_line)
        if skipped:
            result.skip(skipped)
        else:
            try:
                post = planner.plan(row)
            except AutopostrError as exc:
                errors.append(RowError(row.line, exc.message))
            else:
                post.status = gate.status_for(None, post.status)
                first_line.setdefault(post.import_key, row.line)
                fresh.append(post)
                labels = [planner.labels[a.id or 0] for a in post.accounts]
                result.planned.append(
                    PlannedRow(row.line, post.at, post.timezone, labels, post.status)
                )
        if progress is not None and index % 1000 == 0:
            progress(1000)
    if progress is not None:
        progress(len(rows) % 1000)
    result.warnings = list(planner.warnings.values())
    if errors:
        raise ImportRejected(source, errors)

    if fresh:
        from autopostr.billing import limits as billing

        times = [p.at for p in fresh if p.status == PostState.SCHEDULED and p.at is not None]
        billing.check_posts(db, settings, team_id, times, now=now, importing=True)
    result.created = len(fresh)
    result.pending_approval = sum(1 for p in fresh if p.status == PostState.PENDING_APPROVAL)
    if dry_run:
        db.rollback()  # files named in the media column were uploaded to be checked: undo that
        return result
    if not fresh:
        return result
    new_ids = insert_posts(db, actor, team_id, fresh, now)
    queued = [
        (post_id, [a.id or 0 for a in p.accounts])
        for p, post_id in zip(fresh, new_ids, strict=True)
        if p.queued and p.status == PostState.SCHEDULED
    ]
    if queued:
        from autopostr.billing import limits as billing
        from autopostr.schedule.queueing import fill_many

        fill_many(db, team_id, queued, now)
        # Queued rows have their time only now: the plan's monthly limit is checked again.
        billing.check_written(
            db, settings, team_id, [post_id for post_id, _ in queued], now=now, what="this import"
        )
    result.post_ids = [str(i) for i in new_ids]
    if include_deleted:
        _forget_deleted(db, team_id, [p.import_key for p in fresh])
    if any(p.status == PostState.SCHEDULED for p in fresh):
        from autopostr.queue.transitions import notify_due

        notify_due(db)
    audit.record(
        db,
        actor,
        "post.import",
        "post",
        "",
        source=source,
        created=result.created,
        skipped=result.skipped,
    )
    return result


def insert_posts(
    db: DbSession,
    actor: Actor,
    team_id: int,
    fresh: Sequence[PlannedPost],
    now: datetime,
    origin: str = "import",
) -> list[int]:
    """Three bulk writes: posts, destinations, media links (imports and `apply DIR`)."""
    from autopostr.bulk import allocate_ids, insert_rows

    ids = allocate_ids(db, "posts", len(fresh))
    insert_rows(
        db,
        "posts",
        (
            "id",
            "team_id",
            "author_id",
            "status",
            "text",
            "scheduled_at",
            "timezone",
            "first_comment",
            "external_id",
            "import_key",
            "origin",
            "labels",
            "created_at",
            "updated_at",
        ),
        [
            (
                post_id,
                team_id,
                actor.user_id,
                p.status,
                p.text,
                p.at,
                p.timezone,
                p.first_comment,
                p.external_id,
                p.import_key,
                origin,
                p.labels,
                now,
                now,
            )
            for post_id, p in zip(ids, fresh, strict=True)
        ],
    )
    dest_rows: list[tuple[Any, ...]] = []
    media_rows: list[tuple[Any, ...]] = []
    for post_id, p in zip(ids, fresh, strict=True):
        due = p.at if p.status == PostState.SCHEDULED else None
        for account in p.accounts:
            dest_rows.append(
                (
                    post_id,
                    account.id,
                    p.variants.get(account.id or 0),
                    DestinationState.PENDING.value,
                    due,
                    0,
                    os.urandom(16).hex(),
                    now,
                    now,
                )
            )
        for position, item in enumerate(p.media):
            media_rows.append((post_id, item.id, position))
    dest_ids = allocate_ids(db, "post_destinations", len(dest_rows))
    insert_rows(
        db,
        "post_destinations",
        (
            "id",
            "post_id",
            "account_id",
            "text",
            "status",
            "due_at",
            "attempts",
            "idempotency_key",
            "created_at",
            "updated_at",
        ),
        [(dest_id, *row) for dest_id, row in zip(dest_ids, dest_rows, strict=True)],
    )
    insert_rows(db, "post_media", ("post_id", "media_id", "position"), media_rows)
    return ids


def read_source(path: str) -> tuple[bytes, str]:
    """The bytes of FILE (or stdin for -) and the name to use in messages."""
    import sys

    if path == "-":
        return sys.stdin.buffer.read(), "stdin"
    file = Path(path)
    try:
        return file.read_bytes(), file.name
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a CSV file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


EXPORT_COLUMNS = COLUMNS
EXPORT_BATCH = 1000


def export_rows(
    db: DbSession, actor: Actor, statuses: Iterable[str] | None
) -> Iterator[dict[str, str]]:
    """Posts as import rows, one batch of posts in memory at a time (an export of a
    million posts stays small); what has not gone out yet unless other states are asked.

    `at` is written in the post's own zone with its offset, `timezone` names that zone,
    and `variants` holds the per-account texts as a JSON object ({"x:acme": "…"}).
    Plain column queries, not ORM objects: building objects was most of the time."""
    from sqlalchemy import select
    from sqlmodel import col

    team_id = require(actor, "posts.read")
    wanted = list(statuses) if statuses else list(IMPORT_STATES)
    query = (
        select(
            col(Post.id),
            col(Post.text),
            col(Post.scheduled_at),
            col(Post.timezone),
            col(Post.first_comment),
            col(Post.status),
            col(Post.external_id),
        )
        .where(col(Post.team_id) == team_id, col(Post.status).in_(wanted))
        .order_by(col(Post.scheduled_at).is_(None), col(Post.scheduled_at), col(Post.id))
        .execution_options(yield_per=EXPORT_BATCH)
    )
    for batch in db.execute(query).partitions(EXPORT_BATCH):
        ids = [row[0] for row in batch]
        destinations = _export_destinations(db, ids)
        media = _export_media(db, ids)
        for post_id, text, at, zone_name, first_comment, status, external_id in batch:
            targets = destinations.get(post_id, [])
            variants = {name: own for name, own in targets if own is not None}
            local = ""
            if at is not None:
                local = at.astimezone(_zone(zone_name or "UTC")).isoformat(timespec="seconds")
            yield {
                "text": text,
                "accounts": ";".join(name for name, _own in targets),
                "at": local,
                "timezone": zone_name or "",
                "media": ";".join(str(m) for m in media.get(post_id, [])),
                "first_comment": first_comment or "",
                "status": status,
                "external_id": external_id or "",
                "variants": json.dumps(variants, ensure_ascii=False) if variants else "",
            }


def _export_destinations(db: DbSession, ids: list[int]) -> dict[int, list[tuple[str, str | None]]]:
    """Each post's accounts (`platform:handle`) with their own text, in destination order."""
    from sqlalchemy import select
    from sqlmodel import col

    from autopostr.models import PostDestination

    found: dict[int, list[tuple[str, str | None]]] = {}
    rows = db.execute(
        select(
            col(PostDestination.post_id),
            col(SocialAccount.platform),
            col(SocialAccount.handle),
            col(PostDestination.text),
        )
        .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
        .where(col(PostDestination.post_id).in_(ids))
        .order_by(col(PostDestination.id))
    )
    for post_id, platform, handle, own in rows:
        found.setdefault(post_id, []).append((f"{platform}:{handle}", own))
    return found


def _export_media(db: DbSession, ids: list[int]) -> dict[int, list[int]]:
    from sqlalchemy import select
    from sqlmodel import col

    from autopostr.models import PostMedia

    found: dict[int, list[int]] = {}
    rows = db.execute(
        select(col(PostMedia.post_id), col(PostMedia.media_id))
        .where(col(PostMedia.post_id).in_(ids))
        .order_by(col(PostMedia.post_id), col(PostMedia.position))
    )
    for post_id, media_id in rows:
        found.setdefault(post_id, []).append(media_id)
    return found


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def write_csv(rows: Iterable[dict[str, str]], out: IO[str]) -> int:
    """Rows as CSV, written as they come; how many were written."""
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def write_json(rows: Iterable[dict[str, str]], out: IO[str]) -> int:
    """Rows as one JSON array, written an element at a time; how many were written."""
    count = 0
    out.write("[")
    for row in rows:
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
