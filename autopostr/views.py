"""Every `--json` document of PRODUCT §2: the one place that turns a result into JSON.
Keys are stable and never renamed, ids are strings, times ISO 8601 with offset;
tests/test_json_shapes.py pins each shape.

Domain modules return models and dataclasses and never import this module, apart from
the publisher, whose event hooks carry `outcome_json`; the CLI shows the documents
through `output.emit`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from autopostr.timeparse import iso

# Only the standard library at import: `version`, `config` and `keys` print their
# documents without loading SQLAlchemy.
if TYPE_CHECKING:
    from datetime import datetime

    from autopostr.ai.assist import Applied, Preview, Result
    from autopostr.ai.fit import Candidate
    from autopostr.ai.usage import Summary as AiSummary
    from autopostr.ai.usage import Totals
    from autopostr.analytics.reports import AccountReport, BestTimes, Overview, PostReport
    from autopostr.analytics.sync import SyncReport
    from autopostr.ascode.apply import Applied as CodeApplied
    from autopostr.ascode.export import Exported
    from autopostr.ascode.files import FileError
    from autopostr.ascode.plan import Item, Plan
    from autopostr.billing.events import SyncResult as BillingSync
    from autopostr.billing.manage import Session as BillingSession
    from autopostr.billing.manage import Status as BillingStatus
    from autopostr.billing.plans import Plan as BillingPlan
    from autopostr.calendar import Calendar
    from autopostr.config import Settings
    from autopostr.csvio import ImportResult, RowError
    from autopostr.dashboard import Summary
    from autopostr.dbroles import Login, SetupResult
    from autopostr.doctor import CheckResult
    from autopostr.identity import Actor
    from autopostr.keys import ImportResult as KeyImport
    from autopostr.keys import KeySet, MigrationResult, RotationResult, TeamMigrationResult
    from autopostr.media import CleanupResult, MediaView, Uploaded
    from autopostr.models import (
        ApiToken,
        AuditLog,
        Daemon,
        EvergreenItem,
        Feed,
        Media,
        Post,
        PostDestination,
        QueuePause,
        Session,
        SocialAccount,
        Team,
        User,
    )
    from autopostr.outcomes import Outcome
    from autopostr.posts import PostView
    from autopostr.publishing import Reconciled
    from autopostr.publog import LogEntry
    from autopostr.schedule.feeds import CheckResult as FeedCheck
    from autopostr.schedule.plan import Planned
    from autopostr.schedule.queueing import AccountQueue, SlotView
    from autopostr.schedule.series import SeriesView
    from autopostr.setup import InitResult
    from autopostr.teams import Invitation
    from autopostr.unpublishing import Unpublished

Document = dict[str, Any]


# -- people and teams --------------------------------------------------------------


def user_json(user: User | Actor) -> Document:
    from autopostr.identity import Actor

    user_id = user.user_id if isinstance(user, Actor) else user.id
    return {"id": str(user_id), "email": user.email, "name": user.name}


def actor_json(actor: Actor) -> Document:
    return {
        "user": user_json(actor),
        "team": (
            {"id": str(actor.team_id), "name": actor.team_name, "role": actor.role}
            if actor.team_id is not None
            else None
        ),
        "via": actor.via,
    }


def session_json(row: Session, current_id: int | None = None) -> Document:
    return {
        "id": str(row.id),
        "label": row.label,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "expires_at": iso(row.expires_at),
        "current": row.id == current_id,
    }


def token_json(row: ApiToken) -> Document:
    from autopostr.identity import token_status

    return {
        "id": str(row.id),
        "name": row.name,
        "prefix": row.prefix,
        "status": token_status(row),
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "expires_at": iso(row.expires_at),
    }


def new_token_json(row: ApiToken, token: str) -> Document:
    """`auth token create`: the only document that ever holds the token itself."""
    return {**token_json(row), "token": token}


def team_json(team: Team, role: str, current: int | None = None) -> Document:
    return {
        "id": str(team.id),
        "name": team.name,
        "role": role,
        "current": team.id == current,
        "approval_required": team.approval_required,
        "approval_by": team.approval_by or "owner",
    }


def member_json(user: User, role: str) -> Document:
    return {**user_json(user), "role": role}


def invitation_json(result: Invitation) -> Document:
    return {
        "token": result.token,
        "email": result.invite.email,
        "role": result.invite.role,
        "expires_at": iso(result.invite.expires_at),
        "emailed": result.emailed,
        "connection_url": result.connection_url,
    }


def audit_json(entry: AuditLog, email: str | None) -> Document:
    return {
        "id": str(entry.id),
        "at": iso(entry.created_at),
        "user": email,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "details": json.loads(entry.details or "{}"),
    }


# -- accounts and media ------------------------------------------------------------


def account_json(account: SocialAccount) -> Document:
    return {
        "id": str(account.id),
        "platform": account.platform,
        "handle": account.handle,
        "name": account.name,
        "status": account.status,
        "expires_at": iso(account.expires_at),
    }


def account_test_json(account_id: int, label: str, platform_says: dict[str, Any]) -> Document:
    """`accounts test`: the platform's own view of the account."""
    return {"id": str(account_id), "account": label, "ok": True, "platform_says": platform_says}


def media_json(item: Media) -> Document:
    return {
        "id": str(item.id),
        "filename": item.filename,
        "mime_type": item.mime_type,
        "size": item.size,
        "sha256": item.sha256,
        "width": item.width,
        "height": item.height,
        "duration": item.duration,
        "alt_text": item.alt_text,
    }


def library_item_json(item: Media) -> Document:
    """A media item as the `media` commands show it: also how it is stored."""
    return {
        **media_json(item),
        "frames": item.frames,
        "animated": bool(item.frames and item.frames > 1),
        "storage": item.storage,
        "created_at": iso(item.created_at),
    }


def uploaded_json(result: Uploaded) -> Document:
    """`media upload`: `created` is false when the same bytes were already there."""
    return {**library_item_json(result.item), "created": result.created}


def media_view_json(view: MediaView) -> Document:
    return {**library_item_json(view.item), "posts": [str(p) for p in view.posts]}


def cleanup_json(result: CleanupResult) -> Document:
    items = [library_item_json(item) for item in result.items]
    return {"dry_run": result.dry_run, "count": len(items), "bytes": result.bytes, "media": items}


# -- posts ---------------------------------------------------------------------------


def destination_json(dest: PostDestination, account: SocialAccount) -> Document:
    return {
        "id": str(dest.id),
        "account": f"{account.platform}:{account.handle}",
        "account_id": str(account.id),
        "status": dest.status,
        "text": dest.text,
        "remote_id": dest.remote_id,
        "url": dest.url,
        "error": dest.error,
        "attempts": dest.attempts,
        "next_attempt_at": iso(dest.next_attempt_at),
        "published_at": iso(dest.published_at),
    }


def _late(scheduled_at: datetime | None, published_at: datetime | None) -> int | None:
    """How long after its time a destination went out (None: on time, or not out yet)."""
    if scheduled_at is None or published_at is None:
        return None
    late = int((published_at - scheduled_at).total_seconds())
    return late if late >= 60 else None


def post_json(view: PostView) -> Document:
    post = view.post
    return {
        "id": str(post.id),
        "status": post.status,
        "text": post.text,
        "scheduled_at": iso(post.scheduled_at),
        "timezone": post.timezone,
        "first_comment": post.first_comment,
        "external_id": post.external_id,
        "team": str(post.team_id),
        "team_name": view.team_name,
        "author": view.author_email,
        "destinations": [
            {**destination_json(d, a), "late_seconds": _late(post.scheduled_at, d.published_at)}
            for d, a in view.destinations
        ],
        "media": [media_json(m) for m in view.media],
        "review_comment": post.review_comment,
        "labels": json.loads(post.labels) if post.labels else [],
        "created_at": iso(post.created_at),
        "updated_at": iso(post.updated_at),
    }


def unpublished_json(result: Unpublished) -> Document:
    """`posts unpublish --json`: what happened on each platform the post was on."""
    return {
        "post": str(result.post_id),
        "status": result.post_status,
        "destinations": [
            {
                "destination": str(t.target.destination_id),
                "account": t.target.account,
                "outcome": t.outcome,
                "status": t.status,
                "remote_id": t.target.remote_id,
                "url": t.target.url,
                "error": t.error,
            }
            for t in result.takedowns
        ],
    }


def outcome_json(outcome: Outcome) -> Document:
    """What came of one publish call (`daemon run --json`, `posts publish --json`, hooks)."""
    return {
        "destination": str(outcome.destination_id),
        "post": str(outcome.post_id),
        "account": outcome.account,
        "status": outcome.status,
        "attempt": outcome.attempt,
        "remote_id": outcome.remote_id,
        "url": outcome.url,
        "error": outcome.error,
        "next_attempt_at": outcome.next_attempt_at.isoformat() if outcome.next_attempt_at else None,
    }


def reconciled_json(result: Reconciled) -> Document:
    """`posts reconcile`: status is published, pending (to be sent again) or needs_review."""
    return {
        "destination": str(result.destination_id),
        "post": str(result.post_id),
        "account": result.account,
        "status": result.status,
    }


def import_json(result: ImportResult) -> Document:
    return {
        "created": result.created,
        "skipped": result.skipped,
        "dry_run": result.dry_run,
        "rows": result.rows,
        "post_ids": list(result.post_ids),
        "skipped_lines": list(result.skipped_lines),
        "skipped_rows": [
            {"line": row.line, "reason": row.reason, "post": row.post}
            for row in result.skipped_rows
        ],
        "pending_approval": result.pending_approval,
        "planned": [
            {
                "line": row.line,
                "at": iso(row.at),
                "timezone": row.timezone,
                "accounts": list(row.accounts),
                "status": row.status,
            }
            for row in result.planned
        ],
        "warnings": list(result.warnings),
    }


def import_rejected_json(errors: list[RowError]) -> Document:
    """`posts import --json` of a file with bad rows: nothing was created."""
    return {
        "created": 0,
        "skipped": 0,
        "errors": [{"line": e.line, "error": e.message} for e in errors],
    }


# -- the calendar, the dashboard and the publish log ----------------------------------


# -- content as code ---------------------------------------------------------------


def plan_item_json(item: Item) -> Document:
    return {
        "key": item.key,
        "file": item.file,
        "action": item.action.value,
        "post": str(item.post_id) if item.post_id is not None else None,
        "status": item.status,
        "fields": [{"field": f.field, "before": f.before, "after": f.after} for f in item.fields],
        "note": item.note or None,
    }


def plan_json(plan: Plan) -> Document:
    """`plan DIR --json`: every file and every post of the folder, with what apply does."""
    return {
        "dir": plan.root,
        "changes": plan.has_changes,
        "counts": plan.counts(),
        "prune": plan.prune,
        "as_approved": plan.as_approved,
        "fingerprint": plan.fingerprint(),
        "items": [plan_item_json(item) for item in plan.items],
    }


def plan_rejected_json(errors: list[FileError]) -> Document:
    return {
        "errors": [{"file": e.path, "line": e.line, "message": e.message} for e in errors],
    }


def applied_json(result: CodeApplied) -> Document:
    return {
        **plan_json(result.plan),
        "created": [str(i) for i in result.created],
        "changed": [str(i) for i in result.changed],
        "deleted": [str(i) for i in result.deleted],
        "approved": [str(i) for i in result.approved],
        "pending_approval": result.pending_approval,
        "commit": result.commit,
    }


def exported_json(result: Exported) -> Document:
    return {"dir": result.root, "files": result.files, "media": result.media}


def calendar_json(cal: Calendar) -> Document:
    """The `calendar --json` document; `to` is the last day shown (inclusive)."""
    return {
        "view": cal.span,
        "from": cal.first.isoformat(),
        "to": cal.last.isoformat(),
        "month": cal.month.strftime("%Y-%m") if cal.month else None,
        "timezone": cal.timezone,
        "days": [
            {
                "date": day.date.isoformat(),
                "posts": [
                    {
                        "id": str(entry.post_id),
                        "time": entry.time,
                        "scheduled_at": iso(entry.at),
                        "status": entry.status,
                        "accounts": entry.accounts,
                        "text": entry.text,
                    }
                    for entry in day.entries
                ],
            }
            for day in cal.days
        ],
    }


def summary_json(result: Summary) -> Document:
    """`dashboard --json`."""
    return {
        "counts": result.counts,
        "next_due": [
            {
                "id": str(item.post_id),
                "scheduled_at": iso(item.scheduled_at),
                "overdue": item.overdue,
                "accounts": item.accounts,
                "text": item.text,
            }
            for item in result.next_due
        ],
        "failures": [
            {
                "post": str(item.post_id),
                "destination": str(item.destination_id),
                "account": item.account,
                "status": item.status,
                "error": item.error,
                "at": iso(item.at),
                "text": item.text,
            }
            for item in result.failures
        ],
        "accounts": [account_json(account) for account in result.accounts],
        "engagement": result.engagement,
        "engagement_period": {
            "from": result.engagement_from.isoformat() if result.engagement_from else None,
            "to": result.engagement_to.isoformat() if result.engagement_to else None,
            "fetched_at": iso(result.engagement_fetched_at),
        },
    }


def log_entry_json(entry: LogEntry) -> Document:
    return {
        "id": str(entry.id),
        "at": iso(entry.at),
        "event": entry.event,
        "post": str(entry.post_id) if entry.post_id is not None else None,
        "destination": str(entry.destination_id) if entry.destination_id is not None else None,
        "account": entry.account,
        "attempt": entry.attempt,
        "daemon": entry.daemon,
        "message": entry.message,
    }


def daemon_json(row: Daemon, state: str) -> Document:
    """`daemon status`: one daemon's heartbeat; state is alive, silent or stopped."""
    return {
        "id": row.id,
        "host": row.host,
        "pid": row.pid,
        "version": row.version,
        "state": state,
        "started_at": iso(row.started_at),
        "heartbeat_at": iso(row.heartbeat_at),
        "stopped_at": iso(row.stopped_at),
        "in_flight": row.in_flight,
    }


# -- AI assistance (PRODUCT §8) -------------------------------------------------------


def ai_result_json(result: Result) -> Document:
    """A generating `ai` command: its candidates, fitted; `applied` says what --apply wrote."""
    return {
        "feature": str(result.feature),
        "model": result.model,
        "platform": result.platform,
        "candidates": [ai_candidate_json(item) for item in result.candidates],
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
        },
        "applied": ai_applied_json(result.applied) if result.applied else None,
    }


def ai_candidate_json(item: Candidate) -> Document:
    """`length` in the platform's own counting, `limit` its limit (null: none applies);
    `platform` and `account` name where it goes (`account` for variants)."""
    return {
        "text": item.text,
        "length": item.length,
        "limit": item.limit,
        "fits": item.fits,
        "trimmed": item.trimmed,
        "platform": item.platform,
        "account": item.account,
    }


def ai_applied_json(applied: Applied) -> Document:
    return {
        "candidates": list(applied.candidates),
        "post": str(applied.post_id) if applied.post_id is not None else None,
        "media": str(applied.media_id) if applied.media_id is not None else None,
        "account": applied.account,
        "status": applied.status,
    }


def ai_prompt_json(preview: Preview) -> Document:
    """`--show-prompt`: the request as it would be sent, image data included."""
    return {"url": preview.url, "model": preview.model, "messages": preview.messages}


def ai_usage_json(summary: AiSummary) -> Document:
    """`ai usage`: answered requests and tokens since `since`, in total and by feature."""
    total = summary.total
    return {
        "requests": total.requests,
        "prompt_tokens": total.prompt_tokens,
        "completion_tokens": total.completion_tokens,
        "by_feature": {name: _ai_totals(t) for name, t in sorted(summary.by_feature.items())},
        "since": iso(summary.since),
        "failed": total.failed,
        "team": summary.team,
        "user": summary.user,
    }


def _ai_totals(totals: Totals) -> Document:
    return {
        "requests": totals.requests,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "failed": totals.failed,
    }


# -- the installation: init, doctor, settings, schema, keys -----------------------------


def version_json(version: str) -> Document:
    return {"version": version}


def init_json(result: InitResult) -> Document:
    return {
        "home": result.home,
        "database": result.database,
        "schema_before": result.schema_before,
        "schema_after": result.schema_after,
        "key_source": result.key_source,
        "key_created": result.key_created,
        "user_created": result.user_created,
        "signed_in_as": result.signed_in_as,
        "notes": list(result.notes),
    }


def check_json(result: CheckResult) -> Document:
    return {
        "name": result.name,
        "status": result.status,
        "detail": result.detail,
        "fix": result.fix,
    }


def settings_json(settings: Settings) -> list[Document]:
    """`config show`: every setting with its source, the known but unset ones and the
    families last; secrets masked."""
    from autopostr.config import listing

    return [
        {
            "name": item.name,
            "value": item.value,
            "source": item.source,
            "description": item.description,
        }
        for item in listing(settings)
    ]


def config_path_json(settings: Settings) -> Document:
    return {
        "config": str(settings.config_path),
        "exists": settings.config_path.exists(),
        "home": str(settings.home),
    }


def upgrade_json(database: str, before: str | None, after: str | None) -> Document:
    """`db upgrade`: the schema revision before and after."""
    return {"database": database, "before": before, "after": after}


def setup_roles_json(result: SetupResult) -> Document:
    """`db setup-roles`: the group roles and the tables under row-level security."""
    return {
        "member_role": result.member_group,
        "daemon_role": result.daemon_group,
        "admin_role": result.admin,
        "tables": result.tables,
        "policies": result.policies,
    }


def login_json(login: Login) -> Document:
    """`db grant`: the login role and its URL (holding the password: shown this once)."""
    return {
        "role": login.role_name,
        "kind": login.kind,
        "email": login.email,
        "created": login.created,
        "connection_url": login.connection_url,
    }


def key_migration_json(result: MigrationResult) -> Document:
    """`keys migrate`: the key whose public half secrets are now sealed to."""
    return {
        "key": result.key,
        "public_key": result.public_key,
        "resealed": result.resealed,
        "already": result.already,
    }


def team_key_migration_json(result: TeamMigrationResult) -> Document:
    """`keys migrate --team`: the team's own key, whose public half its secrets are
    now sealed to."""
    return {
        "team_id": str(result.team_id),
        "team": result.team,
        "key": result.key,
        "public_key": result.public_key,
        "previous_key": result.previous_key,
        "resealed": result.resealed,
    }


def revoked_login_json(role: str) -> Document:
    """`db grant --revoke`: the login role dropped."""
    return {"role": role, "revoked": True}


def revision_json(database: str, current: str | None, head: str) -> Document:
    """`db current`: the database's revision and the newest this autopostr knows."""
    return {"database": database, "current": current, "head": head, "up_to_date": current == head}


def keyset_json(keyset: KeySet) -> Document:
    """`keys status`: key ids and where they come from, never the keys."""
    return {"active": keyset.active, "keys": sorted(keyset.keys), "source": keyset.source}


def rotation_json(result: RotationResult) -> Document:
    return {
        "old_keys": list(result.old_keys),
        "new_key": result.new_key,
        "reencrypted": result.reencrypted,
        "source": result.source,
        "env_instructions": result.env_instructions,
    }


def key_import_json(result: KeyImport) -> Document:
    return {
        "added": list(result.added),
        "active": result.active,
        "keys": list(result.keys),
        "source": result.source,
        "changed": result.changed,
    }


# -- analytics ---------------------------------------------------------------------------


def analytics_overview_json(view: Overview) -> Document:
    """`analytics overview --json`: counters are what the period added, followers the
    audience at its end; `change` is against the previous period of the same length."""
    return {
        "from": view.first.isoformat(),
        "to": view.last.isoformat(),
        "fetched_at": iso(view.fetched_at),
        "totals": view.totals,
        "previous": view.previous,
        "change": view.change,
        "by_platform": view.by_platform,
        "top_posts": [
            {
                "post": str(top.post_id),
                "destination": str(top.destination_id),
                "account": top.account,
                "url": top.url,
                **top.values,
                "engagement": top.engagement,
            }
            for top in view.top_posts
        ],
        "daily": {
            metric: [{"day": day.isoformat(), "value": value} for day, value in series]
            for metric, series in view.daily.items()
        },
    }


def analytics_post_json(report: PostReport) -> Document:
    return {
        "post": str(report.post_id),
        "fetched_at": iso(report.fetched_at),
        "destinations": [
            {
                "id": str(dest.id),
                "account": dest.account,
                "platform": dest.platform,
                "status": dest.status,
                "url": dest.url,
                "metrics": dest.metrics,
                "history": [{"day": day.isoformat(), **values} for day, values in dest.history],
                "fetched_at": iso(dest.fetched_at),
                "gone": dest.gone_at is not None,
                "gone_at": iso(dest.gone_at),
            }
            for dest in report.destinations
        ],
    }


def analytics_account_json(report: AccountReport) -> Document:
    return {
        "account": report.account,
        "platform": report.platform,
        "from": report.first.isoformat(),
        "to": report.last.isoformat(),
        "fetched_at": iso(report.fetched_at),
        "followers": report.followers,
        "followers_history": [
            {"day": day.isoformat(), "followers": value} for day, value in report.followers_history
        ],
        "posts": report.posts,
        "totals": report.totals,
        "gained": report.gained,
    }


def best_times_json(report: BestTimes) -> Document:
    """`analytics best-times --json`: `heatmap[weekday][hour]` is engagement per
    impression (null: no post then), Monday first, hours in `timezone`."""

    def cell(weekday: int, hour: int) -> Any:
        slot = report.slots.get((weekday, hour))
        return slot.rate if slot is not None else None

    def posts(weekday: int, hour: int) -> int:
        slot = report.slots.get((weekday, hour))
        return slot.posts if slot is not None else 0

    return {
        "from": report.first.isoformat(),
        "to": report.last.isoformat(),
        "timezone": report.timezone,
        "fetched_at": iso(report.fetched_at),
        "posts": report.posts,
        "weekdays": list(report.weekdays),
        "heatmap": [[cell(d, h) for h in range(24)] for d in range(7)],
        "counts": [[posts(d, h) for h in range(24)] for d in range(7)],
        "top": [
            {
                "slot": slot.name,
                "weekday": slot.day_name,
                "hour": slot.hour,
                "rate": slot.rate,
                "posts": slot.posts,
                "impressions": slot.impressions,
                "engagement": slot.engagement,
            }
            for slot in report.top
        ],
        "note": report.note,
    }


def analytics_sync_json(report: SyncReport) -> Document:
    return {
        "posts": report.posts,
        "accounts": report.accounts,
        "gone": list(report.gone),
        "paused": [
            {"account": account, "until": iso(until)} for account, until in report.paused.items()
        ],
        "failed": [
            {"account": account, "error": error} for account, error in report.failed.items()
        ],
        "unsupported": sorted(set(report.unsupported)),
        "errors": list(report.errors),
        "deleted": report.deleted,
        "fetched_at": iso(report.fetched_at),
    }


# -- billing ---------------------------------------------------------------------------


def billing_status_json(status: BillingStatus) -> Document:
    """`billing status`: PRODUCT §10's keys, then more."""
    window = status.window
    return {
        "enabled": status.enabled,
        "plan": status.plan,
        "status": status.status,
        "period_end": iso(status.period_end),
        "limits": dict(status.limits),
        "usage": dict(status.usage),
        "team": status.team,
        "subscribed_plan": status.subscribed,
        "period_start": iso(status.period_start),
        "grace_until": iso(status.grace_until),
        "billing_month": (
            {"from": iso(window[0]), "to": iso(window[1])} if window is not None else None
        ),
        "last_sync": status.last_sync,
    }


def billing_plan_json(plan: BillingPlan) -> Document:
    return {
        "name": plan.name,
        "limits": {name: plan.limits.get(name) for name in plan.limits},
        "stripe_price_monthly": plan.prices.get("monthly"),
        "stripe_price_yearly": plan.prices.get("yearly"),
    }


def billing_session_json(session: BillingSession) -> Document:
    return {"id": session.id, "url": session.url, "plan": session.plan, "yearly": session.yearly}


def billing_sync_json(result: BillingSync) -> Document:
    return {
        "events": result.events,
        "applied": result.applied,
        "duplicates": result.duplicates,
        "ignored": result.ignored,
        "unknown": result.unknown,
        "synced_at": iso(result.synced_at),
        "handled": [
            {
                "id": item.event_id,
                "type": item.type,
                "outcome": "duplicate" if item.duplicate else item.outcome,
                "team": str(item.team_id) if item.team_id is not None else None,
                "detail": item.detail,
            }
            for item in result.handled
        ],
    }


# -- scheduling modes (PRODUCT §12) -------------------------------------------------


def queue_slots_json(queue: AccountQueue) -> Document:
    from autopostr.schedule.slots import DAYS

    return {
        "account": f"{queue.account.platform}:{queue.account.handle}",
        "timezone": queue.schedule.timezone,
        "slots": queue.schedule.spec,
        "days": {
            DAYS[day]: [t.strftime("%H:%M") for t in times]
            for day, times in enumerate(queue.slots.days)
        },
        "per_week": queue.slots.per_week(),
        "evergreen": [c for c in queue.schedule.evergreen.split(",") if c],
    }


def slot_json(row: SlotView) -> Document:
    return {
        "slot": row.number or None,
        "at": iso(row.at),
        "local": row.at.astimezone(row.tz).isoformat(),
        "account": f"{row.account.platform}:{row.account.handle}",
        "post": str(row.post.id) if row.post is not None else None,
        "status": row.post.status if row.post is not None else None,
        "text": row.post.text if row.post is not None else None,
        "evergreen": row.evergreen,
        "paused": row.paused is not None,
        "pause_reason": row.paused or None,
    }


def pause_json(pause: QueuePause, account: str | None) -> Document:
    return {
        "id": str(pause.id),
        "account": account,
        "from": iso(pause.starts_at),
        "until": iso(pause.ends_at),
        "reason": pause.reason,
    }


def series_json(view: SeriesView) -> Document:
    s = view.series
    return {
        "id": str(s.id),
        "kind": s.kind,
        "rule": s.rule,
        "timezone": s.timezone,
        "start": s.start_local,
        "until": iso(s.until),
        "count": s.count,
        "accounts": view.accounts,
        "text": view.text,
        "active": s.stopped_at is None,
        "stopped_at": iso(s.stopped_at),
        "next_at": iso(view.next_at),
        "error": s.error,
        "posts": [{"at": iso(at), "post": str(p) if p else None} for at, p in view.posts],
    }


def evergreen_json(item: EvergreenItem, post: Post) -> Document:
    return {
        "post": str(item.post_id),
        "text": post.text,
        "category": item.category,
        "min_interval_seconds": item.min_interval_seconds,
        "max_cycles": item.max_cycles,
        "until": iso(item.until),
        "cycles": item.cycles,
        "last_shared_at": iso(item.last_shared_at),
        "variants": json.loads(item.variants or "[]"),
        "skipped": item.skipped,
    }


def feed_json(feed: Feed, accounts: list[str], seen: int | None = None) -> Document:
    return {
        "id": str(feed.id),
        "url": feed.url,
        "accounts": accounts,
        "template": feed.template,
        "mode": feed.mode,
        "every_seconds": feed.every_seconds,
        "backfill": feed.backfill,
        "checked_at": iso(feed.checked_at),
        "next_check_at": iso(feed.next_check_at),
        "error": feed.error,
        "seen": seen,
    }


def feed_check_json(result: FeedCheck) -> Document:
    return {
        "feed": str(result.feed.id),
        "url": result.feed.url,
        "not_modified": result.not_modified,
        "new": [
            {"id": e.values["id"], "link": e.values["link"], "text": text}
            for e, text in zip(result.new, result.texts, strict=False)
        ],
        "marked_seen": result.marked_seen,
        "posts": [str(p) for p in result.posts],
        "error": result.error,
    }


def planned_json(item: Planned) -> Document:
    return {
        "at": iso(item.at),
        "local": item.local.isoformat(),
        "account": item.account,
        "source": item.source,
        "post": str(item.post_id) if item.post_id is not None else None,
        "text": item.text,
    }
