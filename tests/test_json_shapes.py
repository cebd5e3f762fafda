"""Every `--json` document keeps its keys, their order and their value types (PRODUCT §2).

Scripts read these documents; PRODUCT §2 names the keys of a post, an account, a
media item, a user and a team, which are never renamed. The scenario below runs
each command that prints a document and compares what it printed, key by key
and in order, with the shapes pinned here, on both engines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.stripe_server import FakeStripe
from tests.helpers import Cli, make_due
from tests.media_samples import image

PASSWORD = "correct horse battery"

# PRODUCT §2, in the order the documents print them.
USER = {"id": str, "email": str, "name": str}
TEAM = {
    "id": str,
    "name": str,
    "role": str,
    "current": bool,
    "approval_required": bool,
    "approval_by": str,
}
ACCOUNT = {
    "id": str,
    "platform": str,
    "handle": str,
    "name": str,
    "status": str,
    "expires_at": None,
}
MEDIA = {
    "id": str,
    "filename": str,
    "mime_type": str,
    "size": int,
    "sha256": str,
    "width": int,
    "height": int,
    "duration": None,
    "alt_text": None,
}
LIBRARY_MEDIA = {**MEDIA, "frames": int, "animated": bool, "storage": str, "created_at": str}
DESTINATION = {
    "id": str,
    "account": str,
    "account_id": str,
    "status": str,
    "text": None,
    "remote_id": None,
    "url": None,
    "error": None,
    "attempts": int,
    "next_attempt_at": None,
    "published_at": None,
}
# In a post's document each destination also says how late it went out (null: on time).
POST_DESTINATION = {**DESTINATION, "late_seconds": None}
POST = {
    "id": str,
    "status": str,
    "text": str,
    "scheduled_at": str,
    "timezone": str,
    "first_comment": None,
    "external_id": None,
    "team": str,
    "team_name": str,
    "author": str,
    "destinations": [POST_DESTINATION],
    "media": [MEDIA],
    "review_comment": None,
    "labels": [],
    "created_at": str,
    "updated_at": str,
}
PUBLISHED_POST = {
    **POST,
    "timezone": None,
    "destinations": [
        {**POST_DESTINATION, "remote_id": str, "url": str, "published_at": str},
    ],
    "media": [],
}
MEMBER = {**USER, "role": str}
SESSION = {
    "id": str,
    "label": str,
    "created_at": str,
    "last_used_at": str,
    "expires_at": str,
    "current": bool,
}
TOKEN = {
    "id": str,
    "name": str,
    "prefix": str,
    "status": str,
    "created_at": str,
    "last_used_at": None,
    "expires_at": None,
}
OUTCOME = {
    "destination": str,
    "post": str,
    "account": str,
    "status": str,
    "attempt": int,
    "remote_id": str,
    "url": str,
    "error": None,
    "next_attempt_at": None,
}
LOG_ENTRY = {
    "id": str,
    "at": str,
    "event": str,
    "post": str,
    "destination": str,
    "account": str,
    "attempt": int,
    "daemon": str,
    "message": str,
}


def shape(doc: Any) -> Any:
    """A document with each value replaced by its type (None for null), lists by their first item."""
    if isinstance(doc, dict):
        return {key: shape(value) for key, value in doc.items()}
    if isinstance(doc, list):
        return [shape(doc[0])] if doc else []
    return None if doc is None else type(doc)


def ordered(doc: Any) -> Any:
    """Dicts compare without order; this keeps it, so a reordered key fails too."""
    if isinstance(doc, dict):
        return [(key, ordered(value)) for key, value in doc.items()]
    if isinstance(doc, list):
        return [ordered(item) for item in doc]
    return doc


class Documents:
    """Runs commands with --json and keeps the shape of what each printed."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.seen: dict[str, Any] = {}

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Any:
        doc = self.cli.ok(*args, "--json", input=input, env=env).json()
        self.seen[" ".join(a for a in args if not a.isdigit() and "/" not in a)] = shape(doc)
        return doc

    def check(self, expected: dict[str, Any]) -> None:
        assert self.seen == expected
        assert ordered(self.seen) == ordered(expected)


def test_home_settings_and_keys_documents(engine: str, cli: Cli) -> None:
    docs = Documents(cli)
    docs("init")
    docs("version")
    docs("doctor")
    docs("config", "show")
    docs("config", "path")
    docs("db", "current")
    docs("db", "upgrade")
    docs("keys", "status")
    docs("keys", "rotate", "--yes")
    docs("keys", "import", input=cli.ok("keys", "export").stdout)
    docs("keys", "migrate")
    docs.check(
        {
            "init": {
                "home": str,
                "database": str,
                "schema_before": None,
                "schema_after": str,
                "key_source": str,
                "key_created": bool,
                "user_created": str,
                "signed_in_as": str,
                "notes": [str],
            },
            "version": {"version": str},
            "doctor": [{"name": str, "status": str, "detail": str, "fix": str}],
            "config show": [{"name": str, "value": str, "source": str, "description": str}],
            "config path": {"config": str, "exists": bool, "home": str},
            "db current": {"database": str, "current": str, "head": str, "up_to_date": bool},
            "db upgrade": {"database": str, "before": str, "after": str},
            "keys status": {"active": str, "keys": [str], "source": str},
            "keys rotate --yes": {
                "old_keys": [str],
                "new_key": str,
                "reencrypted": int,
                "source": str,
                "env_instructions": bool,
            },
            "keys import": {
                "added": [],
                "active": str,
                "keys": [str],
                "source": str,
                "changed": bool,
            },
            "keys migrate": {"key": str, "public_key": str, "resealed": int, "already": bool},
        }
    )


def test_people_and_team_documents(initialized: str, cli: Cli, tmp_path: Path) -> None:
    docs = Documents(cli)
    ed = {"AUTOPOSTR_HOME": str(tmp_path / "home-ed")}
    docs("auth", "whoami")
    docs(
        "auth", "register", "--email", "ed@example.com", "--password-stdin", input=PASSWORD, env=ed
    )
    docs("auth", "login", "--email", "ed@example.com", "--password-stdin", input=PASSWORD, env=ed)
    docs("auth", "sessions")
    docs("auth", "token", "create", "--name", "ci")
    docs("auth", "token", "list")
    docs("team", "create", "Acme")
    docs("team", "list")
    docs("team", "use", "Acme")
    invitation = docs("team", "invite", "ed@example.com")
    docs("team", "join", "--token-stdin", input=invitation["token"], env=ed)
    docs("team", "members")
    docs("team", "role", "ed@example.com", "viewer")
    docs("team", "remove", "ed@example.com", "--yes")
    docs("team", "settings")
    docs("team", "audit")
    docs.check(
        {
            "auth whoami": {
                "user": USER,
                "team": {"id": str, "name": str, "role": str},
                "via": str,
            },
            "auth register --email ed@example.com --password-stdin": USER,
            "auth login --email ed@example.com --password-stdin": USER,
            "auth sessions": [SESSION],
            "auth token create --name ci": {**TOKEN, "token": str},
            "auth token list": [TOKEN],
            "team create Acme": TEAM,
            "team list": [TEAM],
            "team use Acme": TEAM,
            "team invite ed@example.com": {
                "token": str,
                "email": str,
                "role": str,
                "expires_at": str,
                "emailed": bool,
                # Only with AUTOPOSTR_ADMIN_DATABASE_URL on PostgreSQL: see test_db_roles.
                "connection_url": None,
            },
            "team join --token-stdin": TEAM,
            "team members": [MEMBER],
            "team role ed@example.com viewer": MEMBER,
            "team remove ed@example.com --yes": USER,
            "team settings": TEAM,
            "team audit": [
                {
                    "id": str,
                    "at": str,
                    "user": str,
                    "action": str,
                    "target_type": str,
                    "target_id": str,
                    "details": {"name": str},
                }
            ],
        }
    )


def test_account_media_post_and_publishing_documents(
    initialized: str, cli: Cli, tmp_path: Path
) -> None:
    docs = Documents(cli)
    docs("accounts", "add", "sandbox", "--handle", "demo")
    docs("accounts", "list")
    docs("accounts", "show", "sandbox:demo")
    docs("accounts", "test", "sandbox:demo")
    (item,) = docs("media", "upload", str(image(tmp_path / "logo.png", "PNG")))
    docs("media", "list")
    docs("media", "show", item["id"])
    post = docs(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Hi",
        "--media",
        item["id"],
        "--at",
        "+1h",
    )
    docs("posts", "list")
    docs("posts", "show", post["id"])
    docs("posts", "edit", post["id"], "--text", "Hello")
    docs("calendar")
    docs("calendar", "move", post["id"], "+2h")
    docs("dashboard")
    docs("posts", "unschedule", post["id"])
    docs("posts", "schedule", post["id"], "+1h")
    make_due(int(post["id"]))
    docs("daemon", "run", "--once")
    docs("daemon", "status", "--all")
    docs("logs")
    docs("posts", "unpublish", post["id"], "--yes")
    draft = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "Now", "--json").json()
    docs("posts", "publish", draft["id"])
    docs("posts", "reconcile")
    week = tmp_path / "week.csv"
    week.write_text("text,accounts\nFrom a file,sandbox:demo\n", encoding="utf-8")
    docs("posts", "import", str(week))
    docs("posts", "import", str(week), "--dry-run")  # the row is skipped: imported before
    docs("media", "cleanup", "--dry-run", "--older-than", "1s")
    docs("accounts", "disconnect", "sandbox:demo", "--yes")
    docs.check(
        {
            "accounts add sandbox --handle demo": ACCOUNT,
            "accounts list": [ACCOUNT],
            "accounts show sandbox:demo": ACCOUNT,
            "accounts test sandbox:demo": {
                "id": str,
                "account": str,
                "ok": bool,
                "platform_says": {"handle": str, "log": str},
            },
            "media upload": [{**LIBRARY_MEDIA, "created": bool}],
            "media list": [LIBRARY_MEDIA],
            "media show": {**LIBRARY_MEDIA, "posts": []},
            "posts create --to sandbox:demo --text Hi --media --at +1h": POST,
            "posts list": [POST],
            "posts show": POST,
            "posts edit --text Hello": POST,
            "calendar": {
                "view": str,
                "from": str,
                "to": str,
                "month": None,
                "timezone": str,
                "days": [{"date": str, "posts": []}],
            },
            "calendar move +2h": POST,
            "dashboard": {
                "counts": {
                    "draft": int,
                    "pending_approval": int,
                    "approved": int,
                    "scheduled": int,
                    "publishing": int,
                    "published": int,
                    "partially_published": int,
                    "failed": int,
                },
                "next_due": [
                    {
                        "id": str,
                        "scheduled_at": str,
                        "overdue": bool,
                        "accounts": [str],
                        "text": str,
                    }
                ],
                "failures": [],
                "accounts": [ACCOUNT],
                "engagement": {
                    "likes": None,
                    "comments": None,
                    "shares": None,
                    "impressions": None,
                },
                "engagement_period": {"from": str, "to": str, "fetched_at": None},
            },
            "posts unschedule": POST,
            "posts schedule +1h": POST,
            "daemon run --once": [OUTCOME],
            "daemon status --all": [
                {
                    "id": str,
                    "host": str,
                    "pid": int,
                    "version": str,
                    "state": str,
                    "started_at": str,
                    "heartbeat_at": str,
                    "stopped_at": str,
                    "in_flight": int,
                }
            ],
            "logs": [LOG_ENTRY],
            "posts unpublish --yes": {
                "post": str,
                "status": str,
                "destinations": [
                    {
                        "destination": str,
                        "account": str,
                        "outcome": str,
                        "status": str,
                        "remote_id": str,
                        "url": str,
                        "error": None,
                    }
                ],
            },
            "posts publish": PUBLISHED_POST,
            "posts reconcile": [],
            "posts import": {
                "created": int,
                "skipped": int,
                "dry_run": bool,
                "rows": int,
                "post_ids": [str],
                "skipped_lines": [],
                "skipped_rows": [],
                "pending_approval": int,
                "planned": [
                    {"line": int, "at": None, "timezone": None, "accounts": [str], "status": str}
                ],
                "warnings": [],
            },
            "posts import --dry-run": {
                "created": int,
                "skipped": int,
                "dry_run": bool,
                "rows": int,
                "post_ids": [],
                "skipped_lines": [int],
                "skipped_rows": [{"line": int, "reason": str, "post": str}],
                "pending_approval": int,
                "planned": [],
                "warnings": [],
            },
            "media cleanup --dry-run --older-than 1s": {
                "dry_run": bool,
                "count": int,
                "bytes": int,
                "media": [],
            },
            "accounts disconnect sandbox:demo --yes": ACCOUNT,
        }
    )


def test_a_refused_import_still_prints_its_document(
    initialized: str, cli: Cli, tmp_path: Path
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,accounts\nHello,sandbox:nobody\n", encoding="utf-8")
    run = cli("posts", "import", str(bad), "--json")
    assert run.exit_code == 5
    expected = {"created": int, "skipped": int, "errors": [{"line": int, "error": str}]}
    assert ordered(shape(run.json())) == ordered(expected)


COUNTS = {
    name: int
    for name in (
        "create",
        "change",
        "delete",
        "unchanged",
        "published",
        "republish",
        "conflict",
        "keep",
        "forget",
        "approve",
    )
}
PLAN_ITEM: dict[str, Any] = {
    "key": str,
    "file": str,
    "action": str,
    "post": None,
    "status": None,
    "fields": [],
    "note": None,
}
PLAN = {
    "dir": str,
    "changes": bool,
    "counts": COUNTS,
    "prune": bool,
    "as_approved": bool,
    "fingerprint": str,
    "items": [PLAN_ITEM],
}


def test_content_as_code_documents(initialized: str, cli: Cli, tmp_path: Path) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    root = tmp_path / "content"
    root.mkdir()
    post = root / "a.md"
    post.write_text("---\nto: sandbox:demo\nat: 2031-01-01 09:00\n---\nHello\n", encoding="utf-8")
    docs = Documents(cli)
    docs("plan", str(root))
    docs("apply", str(root), "--yes")
    post.write_text("---\nto: sandbox:demo\nat: 2031-01-01 09:00\n---\nHello!\n", encoding="utf-8")
    changed = cli.ok("plan", str(root), "--json").json()
    docs("export-dir", str(tmp_path / "out"))
    docs.check(
        {
            "plan": PLAN,
            "apply --yes": {
                **PLAN,
                "items": [{**PLAN_ITEM, "post": str}],  # the post each file made
                "created": [str],
                "changed": [],
                "deleted": [],
                "approved": [],
                "pending_approval": int,
                "commit": None,
            },
            "export-dir": {"dir": str, "files": [str], "media": int},
        }
    )
    change = {
        **PLAN_ITEM,
        "post": str,
        "status": str,
        "fields": [{"field": str, "before": str, "after": str}],
    }
    assert ordered(shape(changed)) == ordered({**PLAN, "items": [change]})
    post.write_text("---\nto: sandbox:nobody\n---\nHello\n", encoding="utf-8")
    run = cli("plan", str(root), "--json")
    assert run.exit_code == 5
    expected = {"errors": [{"file": str, "line": int, "message": str}]}
    assert ordered(shape(run.json())) == ordered(expected)


BILLING_LIMITS = {
    "accounts": int,
    "posts_per_month": int,
    "ai_requests_per_month": int,
    "seats": int,
}
BILLING_STATUS = {
    "enabled": bool,
    "plan": str,
    "status": None,
    "period_end": None,
    "limits": BILLING_LIMITS,
    "usage": BILLING_LIMITS,
    "team": str,
    "subscribed_plan": str,
    "period_start": None,
    "grace_until": None,
    "billing_month": {"from": str, "to": str},
    "last_sync": None,
}


def test_billing_documents(initialized: str, cli: Cli, stripe: FakeStripe) -> None:
    docs = Documents(cli)
    docs("billing", "status")
    docs("billing", "plans")
    docs("billing", "checkout", "pro", "--no-browser")
    docs("billing", "portal", "--no-browser")
    docs("billing", "sync")
    session = {"id": str, "url": str, "plan": str, "yearly": bool}
    docs.check(
        {
            "billing status": BILLING_STATUS,
            "billing plans": [
                {
                    "name": str,
                    "limits": BILLING_LIMITS,
                    "stripe_price_monthly": None,
                    "stripe_price_yearly": None,
                }
            ],
            "billing checkout pro --no-browser": session,
            "billing portal --no-browser": {**session, "plan": None},
            "billing sync": {
                "events": int,
                "applied": int,
                "duplicates": int,
                "ignored": int,
                "unknown": int,
                "synced_at": str,
                "handled": [{"id": str, "type": str, "outcome": str, "team": None, "detail": str}],
            },
        }
    )


SLOTS = {
    "account": str,
    "timezone": str,
    "slots": str,
    "days": {day: [str] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "per_week": int,
    "evergreen": [],
}
SLOT = {
    "slot": int,
    "at": str,
    "local": str,
    "account": str,
    "post": str,
    "status": str,
    "text": str,
    "evergreen": bool,
    "paused": bool,
    "pause_reason": None,
}
PAUSE = {"id": str, "account": str, "from": str, "until": str, "reason": str}
EVERGREEN: dict[str, Any] = {
    "post": str,
    "text": str,
    "category": str,
    "min_interval_seconds": int,
    "max_cycles": None,
    "until": None,
    "cycles": int,
    "last_shared_at": None,
    "variants": [],
    "skipped": None,
}
SERIES = {
    "id": str,
    "kind": str,
    "rule": str,
    "timezone": str,
    "start": str,
    "until": None,
    "count": int,
    "accounts": [str],
    "text": str,
    "active": bool,
    "stopped_at": None,
    "next_at": str,
    "error": None,
    "posts": [{"at": str, "post": str}],
}
FEED = {
    "id": str,
    "url": str,
    "accounts": [str],
    "template": str,
    "mode": str,
    "every_seconds": int,
    "backfill": int,
    "checked_at": None,
    "next_check_at": str,
    "error": None,
    "seen": int,
}
PLANNED = {"at": str, "local": str, "account": str, "source": str, "post": str, "text": str}


def test_scheduling_documents(sandbox: str, cli: Cli) -> None:
    from tests.fakes.feed_server import FeedServer, Item, rss, serving

    docs = Documents(cli)
    docs("queue", "slots", "set", "sandbox:demo", "daily 09:00", "--tz", "UTC")
    docs("queue", "slots", "show", "sandbox:demo")
    docs("posts", "create", "--to", "sandbox:demo", "--text", "queued", "--queue")
    docs("queue", "show")
    docs("queue", "pause", "sandbox:demo", "--from", "2031-01-01", "--until", "2031-01-02")
    docs("queue", "pauses")
    docs(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "weekly",
        "--every",
        "1w",
        "--count",
        "3",
    )
    docs("posts", "series")
    draft = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "tip", "--draft", "--json")
    docs("posts", "evergreen", "add", draft.json()["id"])
    docs("posts", "evergreen", "list")
    docs("schedule", "simulate", "--from", "2020-01-01", "--until", "2040-01-01")
    with serving(FeedServer()) as feed:
        feed.publish(rss([Item("urn:1", "One", "https://acme.example/1")]))
        docs("feeds", "add", feed.url, "--to", "sandbox:demo", "--draft")
        docs("feeds", "show", feed.url)
        check = cli.ok("feeds", "check", feed.url, "--json").json()
    assert list(check) == ["feed", "url", "not_modified", "new", "marked_seen", "posts", "error"]
    assert check["marked_seen"] == 1 and check["new"] == []
    docs.check(
        {
            "queue slots set sandbox:demo daily 09:00 --tz UTC": SLOTS,
            "queue slots show sandbox:demo": SLOTS,
            "posts create --to sandbox:demo --text queued --queue": {
                **POST,
                "timezone": None,
                "media": [],
            },
            "queue show": [SLOT],
            "queue pause sandbox:demo --from 2031-01-01 --until 2031-01-02": PAUSE,
            "queue pauses": [PAUSE],
            "posts create --to sandbox:demo --text weekly --every 1w --count": {
                **POST,
                "media": [],
            },
            "posts series": [SERIES],
            "posts evergreen add": EVERGREEN,
            "posts evergreen list": [EVERGREEN],
            "schedule simulate --from 2020-01-01 --until 2040-01-01": [PLANNED],
            "feeds add --to sandbox:demo --draft": FEED,
            "feeds show": FEED,
        }
    )
