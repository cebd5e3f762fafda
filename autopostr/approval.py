"""The approval workflow: in a team that requires it, an editor's post waits for an owner.

draft → pending_approval → (approve) scheduled, or approved when it has no time
yet; (reject) back to draft with the owner's comment. Editing an approved or
scheduled post sends it back for approval. Owners schedule directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from autopostr import audit
from autopostr.errors import Conflict, InvalidInput, PermissionDenied
from autopostr.identity import Actor
from autopostr.models import Post, Team, utcnow
from autopostr.permissions import require

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession


# What a person asks of a post; `Approval.status_for` says what the post really becomes.
DRAFT = "draft"  # keep it as a draft
SCHEDULE = "scheduled"  # give it a time and let it go out (create, import, schedule, move)
EDIT = "edited"  # its text, media, accounts or time changed

# States an edit sends back to an owner: approval covered the content it had then.
_APPROVED_CONTENT = ("approved", "scheduled", "failed")


@dataclass(frozen=True)
class Approval:
    """The one rule on approval: every path that creates or changes a post asks it.

    `posts create`, every row of `posts import`, `posts edit`, `posts schedule`,
    `calendar move`, `posts publish` and `posts retry` all go through here, so no
    path lets an editor's post out without an owner's approval.
    """

    required: bool

    @classmethod
    def for_actor(cls, db: DbSession, actor: Actor) -> Approval:
        return cls(needs_approval(db, actor))

    def status_for(self, current: str | None, wanted: str) -> str:
        """The state the post takes; `current` is None for a new post."""
        if wanted == DRAFT:
            return DRAFT
        if wanted == SCHEDULE:
            if self.required and current != "approved":
                return "pending_approval"
            return "scheduled"
        if wanted == EDIT:
            assert current is not None
            if self.required and current in _APPROVED_CONTENT:
                return "pending_approval"
            return current
        raise ValueError(f"unknown change {wanted!r}")

    def check_send_now(self, post: Post, verb: str = "published now") -> None:
        """`posts publish` and `posts retry`: an editor's post goes out only once approved."""
        if not self.required or post.status not in ("draft", "pending_approval"):
            return
        if post.status == "pending_approval":
            raise PermissionDenied(
                f"post {post.id} is waiting for an owner's approval before it can be {verb}: "
                f"an owner runs `autopostr posts approve {post.id}`"
            )
        raise PermissionDenied(
            f"post {post.id} needs an owner's approval before it can be {verb}: "
            f"`autopostr posts submit {post.id}`"
        )


def needs_approval(db: DbSession, actor: Actor) -> bool:
    """True when the actor's posts must be approved before they can go out."""
    if actor.team_id is None or actor.role == "owner":
        return False
    team = db.get(Team, actor.team_id)
    return bool(team and team.approval_required)


def hold_for_approval(db: DbSession, post: Post) -> None:
    """The post waits for an owner; its destinations are not due meanwhile."""
    from autopostr.posts import set_due

    post.status = "pending_approval"
    post.updated_at = utcnow()
    db.add(post)
    set_due(db, post, None)


def submit(db: DbSession, actor: Actor, post_id: int) -> Post:
    from autopostr.posts import get

    team_id = require(actor, "posts.write")
    post = get(db, team_id, post_id)
    team = db.get(Team, team_id)
    if not (team and team.approval_required):
        raise Conflict(
            "this team does not require approval: schedule the post with `autopostr posts schedule`"
        )
    if post.status not in ("draft", "approved"):
        raise Conflict(f"post {post_id} is {post.status}; only drafts are submitted for approval")
    hold_for_approval(db, post)
    audit.record(db, actor, "post.submit", "post", post.id)
    return post


def approve(db: DbSession, actor: Actor, post_id: int, comment: str | None = None) -> Post:
    from autopostr.posts import get, set_due, wake_daemons

    team_id = require(actor, "posts.approve")
    post = get(db, team_id, post_id)
    if post.status != "pending_approval":
        raise Conflict(f"post {post_id} is {post.status}, not pending approval")
    now = utcnow()
    post.review_comment = (comment or "").strip() or None
    post.updated_at = now
    if post.scheduled_at is not None and post.scheduled_at > now:
        post.status = "scheduled"
        set_due(db, post, post.scheduled_at)
        wake_daemons(db)
    else:
        # No time yet (or it passed while waiting): approved, to be scheduled.
        post.status = "approved"
    db.add(post)
    audit.record(db, actor, "post.approve", "post", post.id, comment=post.review_comment)
    return post


def reject(db: DbSession, actor: Actor, post_id: int, comment: str) -> Post:
    from autopostr.posts import get

    team_id = require(actor, "posts.approve")
    if not comment.strip():
        raise InvalidInput("--comment: say why, so the author knows what to change")
    post = get(db, team_id, post_id)
    if post.status != "pending_approval":
        raise Conflict(f"post {post_id} is {post.status}, not pending approval")
    post.status = "draft"
    post.review_comment = comment.strip()
    post.updated_at = utcnow()
    db.add(post)
    audit.record(db, actor, "post.reject", "post", post.id, comment=post.review_comment)
    return post
