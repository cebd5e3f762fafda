"""`autopostr apply DIR`: make the team's posts what the content folder says, all or none.

The plan is made again inside the transaction that applies it, under the team's
import lock, and must be the plan that was shown (its fingerprint), or nothing is
written. New posts are written as `posts import` writes rows (in bulk, the same
approval rule); changes go through `posts.edit`, `posts.schedule` and
`posts.unschedule`, deletions through `posts.delete`, approvals through
`posts.approve`: the permissions, validation and approval of the CLI's own paths.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopostr import approval, audit
from autopostr import posts as posts_mod
from autopostr.ascode.plan import Action, Item, Plan, build
from autopostr.config import Settings
from autopostr.errors import Conflict
from autopostr.identity import Actor
from autopostr.models import utcnow
from autopostr.permissions import require
from autopostr.queue.transitions import set_due
from autopostr.states import PostState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

COMMIT_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA")


def commit_id(environ: Mapping[str, str] | None = None) -> str | None:
    """The commit a CI job applies (GitHub Actions, GitLab CI), for the audit log."""
    env = os.environ if environ is None else environ
    for name in COMMIT_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value[:64]
    return None


@dataclass
class Applied:
    plan: Plan
    created: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    approved: list[int] = field(default_factory=list)
    pending_approval: int = 0  # written posts that wait for an owner's approval
    commit: str | None = None


def apply(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    root: Path,
    *,
    default_tz: str,
    prune: bool = False,
    force: bool = False,
    as_approved: bool = False,
    expected: str | None = None,
    commit: str | None = None,
    now: datetime | None = None,
) -> Applied:
    from autopostr.csvio import lock_team_imports

    team_id = require(actor, "posts.write")
    now = now or utcnow()
    lock_team_imports(db, team_id)
    plan = build(
        db,
        actor,
        settings,
        root,
        default_tz=default_tz,
        prune=prune,
        as_approved=as_approved,
        force=force,
        now=now,
    )
    if expected is not None and plan.fingerprint() != expected:
        raise Conflict(
            f"{root}: the folder or the team's posts changed since the plan was shown; "
            "nothing was applied: run apply again to see the new plan"
        )
    conflicts = [item for item in plan.items if item.action == Action.CONFLICT]
    if conflicts:
        names = ", ".join(f"{i.file} (post {i.post_id})" for i in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise Conflict(
            f"{len(conflicts)} post(s) were edited by hand since the last apply: {names}{more}; "
            "nothing was applied: make the files say what the posts should be, or run "
            "apply --force to make the posts what the files say"
        )
    result = Applied(plan, commit=commit)
    approved_by = {"approved_by": "git", "commit": commit} if as_approved else {}
    _create(db, actor, team_id, plan, result, now, approved_by)
    for item in plan.items:
        if item.action == Action.CHANGE:
            _change(db, actor, settings, team_id, item, now)
            result.changed.append(item.post_id or 0)
        elif item.action == Action.DELETE:
            assert item.post_id is not None
            posts_mod.delete(db, actor, item.post_id)
            result.deleted.append(item.post_id)
        elif item.action == Action.APPROVE:
            assert item.post_id is not None
            note = f"approved by a merged pull request{f' (commit {commit})' if commit else ''}"
            posts_mod.approve(db, actor, item.post_id, note)
            result.approved.append(item.post_id)
        elif item.action == Action.FORGET:
            record = plan.records.get(item.key)
            if record is not None:
                db.delete(record)
    _remember(db, team_id, plan, now, commit)
    from autopostr.billing import limits as billing

    billing.check_written(
        db,
        settings,
        team_id,
        [*result.created, *result.changed],
        now=now,
        what="this apply",
    )
    result.pending_approval += _pending(db, result.changed)
    audit.record(
        db,
        actor,
        "code.apply",
        "team",
        team_id,
        folder=Path(plan.root).name,
        created=len(result.created),
        changed=len(result.changed),
        deleted=len(result.deleted),
        approved=len(result.approved),
        commit=commit,
        as_approved=as_approved,
    )
    return result


def _create(
    db: DbSession,
    actor: Actor,
    team_id: int,
    plan: Plan,
    result: Applied,
    now: datetime,
    approved_by: dict[str, Any],
) -> None:
    """New posts (and new posts for published ones with `republish: true`) in bulk, each
    in the state the approval rule gives it, each with an audit entry."""
    from autopostr import accounts as accounts_mod
    from autopostr.bulk import insert_rows
    from autopostr.csvio import PlannedPost, insert_posts
    from autopostr.posts import content_key

    items = [i for i in plan.items if i.action in (Action.CREATE, Action.REPUBLISH)]
    if not items:
        return
    gate = approval.Approval.for_actor(db, actor)
    fresh = []
    for item in items:
        want = item.desired
        assert want is not None
        content = want.content
        wanted = approval.SCHEDULE if content.status == PostState.SCHEDULED else approval.DRAFT
        by_label = dict(content.variants)
        fresh.append(
            PlannedPost(
                line=0,
                text=content.text,
                accounts=want.accounts,
                at=content.at,
                timezone=want.timezone,
                media=want.media,
                first_comment=content.first_comment,
                status=gate.status_for(None, wanted),
                external_id=None,
                import_key=content_key(content.text, content.accounts, content.at),
                variants={
                    a.id or 0: by_label[accounts_mod.label(a)]
                    for a in want.accounts
                    if accounts_mod.label(a) in by_label
                },
                labels=want.labels_json,
            )
        )
    ids = insert_posts(db, actor, team_id, fresh, now, origin="code")
    result.created = ids
    result.pending_approval = sum(1 for p in fresh if p.status == PostState.PENDING_APPROVAL)
    for item, post_id in zip(items, ids, strict=True):
        item.post_id = post_id
    insert_rows(
        db,
        "audit_log",
        ("team_id", "user_id", "action", "target_type", "target_id", "details", "created_at"),
        [
            (
                team_id,
                actor.user_id,
                "post.create",
                "post",
                str(post_id),
                json.dumps(
                    {"file": item.file, "status": p.status, **approved_by},
                    default=str,
                    sort_keys=True,
                ),
                now,
            )
            for item, post_id, p in zip(items, ids, fresh, strict=True)
        ],
    )
    if any(p.status == PostState.SCHEDULED for p in fresh):
        from autopostr.queue.transitions import notify_due

        notify_due(db)


def _change(
    db: DbSession, actor: Actor, settings: Settings, team_id: int, item: Item, now: datetime
) -> None:
    """One post made what its file says, through the CLI's own verbs."""
    from autopostr.ascode.plan import content_of

    want = item.desired
    assert want is not None and item.post_id is not None
    post_id = item.post_id
    view = posts_mod.view(db, posts_mod.get(db, team_id, post_id))
    have, goal = content_of(view), want.content
    if (have.text, have.at, have.accounts, have.first_comment, have.variants, have.media) != (
        goal.text,
        goal.at,
        goal.accounts,
        goal.first_comment,
        goal.variants,
        goal.media,
    ):
        variants = dict(goal.variants)
        media_changed = have.media != goal.media
        posts_mod.edit(
            db,
            actor,
            settings,
            post_id,
            text=goal.text if have.text != goal.text else None,
            at=goal.at if goal.at is not None and goal.at != have.at else None,
            first_comment=(goal.first_comment or "")
            if have.first_comment != goal.first_comment
            else None,
            variants={label: variants.get(label, "") for label in goal.accounts}
            if have.variants != goal.variants or have.accounts != goal.accounts
            else None,
            add_to=sorted(set(goal.accounts) - set(have.accounts)),
            remove_from=sorted(set(have.accounts) - set(goal.accounts)),
            add_media=[str(m.id) for m in want.media] if media_changed else (),
            remove_media=[str(m.id) for m in view.media] if media_changed else (),
            now=now,
        )
    post = posts_mod.get(db, team_id, post_id)
    if goal.status == PostState.DRAFT and post.status != PostState.DRAFT:
        if post.status == PostState.SCHEDULED:
            posts_mod.unschedule(db, actor, post_id)
        else:  # waiting for approval, or approved: back to a draft, not due
            post.status = PostState.DRAFT
            set_due(db, post, None)
            audit.record(db, actor, "post.unschedule", "post", post_id)
    elif goal.status == PostState.SCHEDULED and post.status in (
        PostState.DRAFT,
        PostState.APPROVED,
        PostState.FAILED,  # changed by its file: it starts afresh at its time
    ):
        assert goal.at is not None
        posts_mod.schedule(db, actor, settings, post_id, goal.at, now=now)
    post = posts_mod.get(db, team_id, post_id)
    if goal.at is None and post.scheduled_at is not None:
        post.scheduled_at = None
    post.timezone = want.timezone if goal.at is not None else post.timezone
    if post.labels != want.labels_json:
        post.labels = want.labels_json
        audit.record(db, actor, "post.edit", "post", post_id, labels=list(goal.labels))
    post.updated_at = now
    db.add(post)


def _remember(db: DbSession, team_id: int, plan: Plan, now: datetime, commit: str | None) -> None:
    """The key and content hash of every post the folder now accounts for."""
    from autopostr.bulk import insert_rows

    new_rows = []
    for item in plan.items:
        want = item.desired
        if want is None or item.post_id is None:
            continue
        if item.action not in (
            Action.CREATE,
            Action.REPUBLISH,
            Action.CHANGE,
            Action.UNCHANGED,
            Action.APPROVE,
        ):
            continue
        digest = want.content.digest()
        record = plan.records.get(item.key)
        if record is None:
            new_rows.append((team_id, item.key, item.post_id, digest, now, commit))
        elif record.content_hash != digest or record.post_id != item.post_id:
            record.content_hash, record.post_id = digest, item.post_id
            record.applied_at, record.commit_id = now, commit
            db.add(record)
    db.flush()
    insert_rows(
        db,
        "code_posts",
        ("team_id", "key", "post_id", "content_hash", "applied_at", "commit_id"),
        new_rows,
    )


def _pending(db: DbSession, post_ids: list[int]) -> int:
    from autopostr.models import Post

    return sum(
        1
        for post_id in post_ids
        if (post := db.get(Post, post_id)) is not None and post.status == PostState.PENDING_APPROVAL
    )
