"""The approval rule: in a team that requires it, an editor's post waits for an owner.

draft → pending_approval → (approve) scheduled, or approved when it has no time
yet; (reject) back to draft with the owner's comment. Editing an approved or
scheduled post sends it back for approval. Owners schedule directly. The verbs
(submit, approve, reject) live with the other post verbs in `posts.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from autopostr.errors import PermissionDenied
from autopostr.identity import Actor
from autopostr.models import Post, Team, utcnow
from autopostr.queue.transitions import set_due
from autopostr.states import APPROVED_CONTENT, PostState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession


# What a person asks of a post; `Approval.status_for` says what the post really becomes.
DRAFT = PostState.DRAFT  # keep it as a draft
SCHEDULE = PostState.SCHEDULED  # give it a time and let it go out (create, import, move)
EDIT = "edited"  # its text, media, accounts or time changed


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
            if self.required and current != PostState.APPROVED:
                return PostState.PENDING_APPROVAL
            return PostState.SCHEDULED
        if wanted == EDIT:
            assert current is not None
            if self.required and current in APPROVED_CONTENT:
                return PostState.PENDING_APPROVAL
            return current
        raise ValueError(f"unknown change {wanted!r}")

    def check_send_now(self, post: Post, verb: str = "published now") -> None:
        """`posts publish` and `posts retry`: an editor's post goes out only once approved."""
        if not self.required or post.status not in (PostState.DRAFT, PostState.PENDING_APPROVAL):
            return
        if post.status == PostState.PENDING_APPROVAL:
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
    post.status = PostState.PENDING_APPROVAL
    post.updated_at = utcnow()
    db.add(post)
    set_due(db, post, None)
