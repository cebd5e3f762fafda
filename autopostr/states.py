"""The publishing queue's states: of posts, of destinations, of the publish log, and
their named groups.

This module is the one home of those names. It imports nothing else of autopostr,
so the tables (`models/`) build their SQL predicates and CHECK constraints from
it; the moves between states live in the `queue` package (`queue.transitions`,
`queue.claims`), which imports the tables.

A post::

    draft ──submit──▶ pending_approval ──approve──▶ approved ──schedule──▶ scheduled
      ▲    (or create/import/schedule by an editor)  │  (approve with a time) ──▶ │
      └──────────────────reject──────────────────────┘                           │
    scheduled ──a daemon claims a destination──▶ publishing ──▶ published
                                                              ├─▶ partially_published
                                                              └─▶ failed

An owner's create/import/schedule goes straight to scheduled; an edit by someone
who needs approval sends an approved, scheduled or failed post back to
pending_approval. A scheduled post's state follows its destinations':

    pending ──claim (lease, attempts+1)──▶ claimed ──▶ published ──unpublish──▶ deleted
       ▲                                     │  ├──▶ retrying (next_attempt_at) ──▶ claimed …
       │                                     │  ├──▶ failed (error kept)
       │                                     │  └──▶ needs_review (may have been sent)
       │                                     └──lease runs out──▶ claimed again by another daemon
       └────── posts retry / reconcile (the platform never got it) ◀── failed, needs_review

`processing` is a destination the platform accepted and is still processing;
no daemon holds a slot while it waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class PostState(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"


class DestinationState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    PROCESSING = "processing"
    PUBLISHED = "published"
    RETRYING = "retrying"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    DELETED = "deleted"


class LogEvent(StrEnum):
    """What the publish log records; an outcome's event is its destination's new state."""

    CLAIMED = "claimed"
    RECOVERING = "recovering"
    PROCESSING = "processing"  # the platform is processing the media; checked again later
    PUBLISHED = "published"
    RETRYING = "retrying"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    LEASE_LOST = "lease_lost"
    DELETED = "deleted"  # taken down by `posts unpublish`
    DELETE_FAILED = "delete_failed"


class SubscriptionState(StrEnum):
    """A team's Stripe subscription, as Stripe names its states (billing/)."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"  # a payment failed: the plan holds for a grace period
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"  # the first payment has not gone through yet
    INCOMPLETE_EXPIRED = "incomplete_expired"
    UNPAID = "unpaid"
    PAUSED = "paused"


class BillingEventOutcome(StrEnum):
    """What the billing handler did with a Stripe event (each event id once)."""

    APPLIED = "applied"  # it changed (or confirmed) a team's subscription
    IGNORED = "ignored"  # a handled type about no team of this database
    UNKNOWN = "unknown"  # a type autopostr does not handle: recorded, nothing done


P = PostState
D = DestinationState

# -- posts -----------------------------------------------------------------
# Not yet committed to going out: their destinations are not due.
UNDECIDED_POSTS = frozenset({P.DRAFT, P.PENDING_APPROVAL, P.APPROVED})
# Nothing has been sent yet (or everything failed): text, time and accounts may change.
EDITABLE_POSTS = frozenset({P.DRAFT, P.PENDING_APPROVAL, P.APPROVED, P.SCHEDULED, P.FAILED})
# An approval covered the content these had; an edit needs a new one.
APPROVED_CONTENT = frozenset({P.APPROVED, P.SCHEDULED, P.FAILED})
# Committed to a time: what a calendar shows. A draft may carry a time it was written
# for, but it is not on the calendar until someone schedules it; nor are the approval
# states.
ON_THE_CALENDAR = frozenset(
    {P.SCHEDULED, P.PUBLISHING, P.PUBLISHED, P.PARTIALLY_PUBLISHED, P.FAILED}
)
# May still go out: the media they use must not vanish under them.
MAY_GO_OUT = UNDECIDED_POSTS | {P.SCHEDULED, P.PUBLISHING}
# Some destination did not go out.
UNSUCCESSFUL_POSTS = frozenset({P.FAILED, P.PARTIALLY_PUBLISHED})

# -- subscriptions ---------------------------------------------------------
# The plan's limits hold in full.
PAYING = frozenset({SubscriptionState.TRIALING, SubscriptionState.ACTIVE})

# -- destinations ----------------------------------------------------------
# Waiting for a daemon to claim them once due (a processing one at its next check).
DUE_STATES = frozenset({D.PENDING, D.RETRYING, D.PROCESSING})
# Not settled: a daemon still has work to do, or a person must look.
UNSETTLED = frozenset({D.PENDING, D.CLAIMED, D.PROCESSING, D.RETRYING, D.NEEDS_REVIEW})
# Nothing reached the platform (as far as anyone knows): a new time applies to them.
RESCHEDULABLE = frozenset({D.PENDING, D.RETRYING, D.FAILED})
# A person may send these again (`posts retry`).
RETRYABLE = frozenset({D.FAILED, D.NEEDS_REVIEW, D.RETRYING})
# What the dashboard counts as a problem.
PROBLEMS = frozenset({D.FAILED, D.NEEDS_REVIEW})
# On the platform now, or taken down from it: the post did go out.
WENT_OUT = frozenset({D.PUBLISHED, D.DELETED})
# The outcomes an event hook is told about.
HOOK_EVENTS = (D.PUBLISHED, D.FAILED, D.NEEDS_REVIEW)


def sql_in(column: str, states: Iterable[str]) -> str:
    """A SQL predicate over literal states, for partial indexes and CHECK constraints."""
    names = sorted(str(state) for state in states)
    if len(names) == 1:
        return f"{column} = '{names[0]}'"
    return f"{column} IN ({', '.join(repr(name) for name in names)})"
