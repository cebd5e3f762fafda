"""Least privilege on a shared PostgreSQL: a database role per member, row-level security.

`setup_roles` (run once, and again after every `db upgrade`, with an administrative
URL) creates two group roles, `<prefix>_member` and `<prefix>_daemon`, grants them
table and column privileges, and puts row-level security (enabled and forced) on
every table that holds a team's or a user's rows. Each member then connects as a
login role of their own (`grant_login`), a member of `<prefix>_member`; daemons
connect as a login role in `<prefix>_daemon`.

A member's role in a team lives in `team_members`, one row per team, so it cannot
be a database role: a user may own one team and view another. The policies ask
`autopostr_rank(team_id)`, which maps the connected login role to its autopostr user
(`autopostr_logins`: login role → e-mail → `users`) and reads their role in that
team. The mapping functions are SECURITY DEFINER, owned by the administrator, so
they read `team_members` without the policies that call them; they map
`session_user`, the role that logged in, which `SET ROLE` cannot change.

What the database enforces (the application's checks stay the friendly first line):
- a member sees only rows of teams they belong to; viewers write nothing of a team;
  editors write posts, media and their destinations' schedule but not roles,
  invitations, settings, billing or accounts, and in a team that requires approval
  cannot make a post approved or scheduled;
- only the daemon role reads the token columns, and only it writes a destination's
  outcome (its remote id, URL, lease and the states a publish reaches);
- sessions and access tokens are readable by their user and the daemons only.
SQLite (one person) has none of this and needs none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autopostr.config import Settings
from autopostr.errors import ConfigError, InvalidInput, NotFound, PermissionDenied
from autopostr.models import Role
from autopostr.models.billing import FREE_PLAN, INSTANCE_META_KEY
from autopostr.states import (
    APPROVED_CONTENT,
    DestinationState,
    PostState,
    SubscriptionState,
    sql_in,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

DEFAULT_PREFIX = "autopostr"
LOGINS_TABLE = "autopostr_logins"
ROLE_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
MEMBER, DAEMON = "member", "daemon"

# The tables row-level security guards: a team's rows, and a user's own.
TEAM_TABLES = (
    "posts",
    "post_destinations",
    "post_media",
    "media",
    "media_chunks",
    "social_accounts",
    "publish_logs",
    "audit_log",
    "analytics_snapshots",
    "analytics_daily",
    "analytics_targets",
    "ai_usage",
    "subscriptions",
    "team_invites",
    "team_members",
    "teams",
    "import_tombstones",
    "billing_events",
    "code_posts",
    "queue_schedules",
    "queue_slots",
    "queue_pauses",
    "post_series",
    "series_posts",
    "evergreen_items",
    "feeds",
    "feed_entries",
)
# Tables of the scheduling modes and content as code: a member with write rights edits them.
SCHEDULING_TABLES = (
    "code_posts",
    "queue_schedules",
    "queue_slots",
    "queue_pauses",
    "post_series",
    "series_posts",
    "evergreen_items",
    "feeds",
    "feed_entries",
)
USER_TABLES = ("users", "sessions", "api_tokens")
RLS_TABLES = TEAM_TABLES + USER_TABLES
# Readable by every member, written by the daemons and the administrator only.
SHARED_READ = ("alembic_version", "app_meta", "daemons")

# Columns only the daemon role reads (the sealed tokens).
TOKEN_COLUMNS = ("access_token", "refresh_token")
# What a member may change of a destination: its schedule, never its outcome.
DESTINATION_SCHEDULE_COLUMNS = (
    "status",
    "text",
    "due_at",
    "error",
    "attempts",
    "next_attempt_at",
    "idempotency_key",
    "updated_at",
)
# The states a member may put a destination in; the others are a publish's outcome.
MEMBER_DESTINATION_STATES = (
    DestinationState.PENDING,
    DestinationState.RETRYING,
    DestinationState.FAILED,
)

R = {role.value: rank for rank, role in enumerate(Role, start=1)}  # viewer 1 … owner 3
VIEW, EDIT, OWN = R[Role.VIEWER], R[Role.EDITOR], R[Role.OWNER]


@dataclass(frozen=True)
class Groups:
    prefix: str

    @property
    def member(self) -> str:
        return f"{self.prefix}_member"

    @property
    def daemon(self) -> str:
        return f"{self.prefix}_daemon"


def groups(prefix: str | None) -> Groups:
    prefix = (prefix or DEFAULT_PREFIX).strip().lower()
    if not ROLE_NAME_RE.match(prefix) or len(prefix) > 30:
        raise ConfigError(
            f"AUTOPOSTR_DB_ROLE_PREFIX {prefix!r}: use up to 30 lowercase letters, digits "
            "and underscores, starting with a letter"
        )
    return Groups(prefix)


def _q(name: str) -> str:
    """An identifier we built ourselves (checked against ROLE_NAME_RE), quoted."""
    if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", name):
        raise InvalidInput(f"{name!r} is not a role name autopostr makes")
    return f'"{name}"'


# ---------------------------------------------------------------- the SQL


def _functions(admin: str) -> list[str]:
    rank_case = " ".join(f"WHEN '{role}' THEN {rank}" for role, rank in R.items())
    definer = "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp"
    return [
        f"""CREATE TABLE IF NOT EXISTS {LOGINS_TABLE} (
            role_name varchar(63) PRIMARY KEY,
            email varchar(320),
            kind varchar(16) NOT NULL CHECK (kind IN ('{MEMBER}', '{DAEMON}')),
            created_at timestamptz NOT NULL DEFAULT now())""",
        f"REVOKE ALL ON {LOGINS_TABLE} FROM PUBLIC",
        # The autopostr user the connected login role stands for (NULL: none).
        f"""CREATE OR REPLACE FUNCTION autopostr_email() RETURNS text {definer} AS $$
            SELECT email FROM {LOGINS_TABLE} WHERE role_name = session_user $$""",
        f"""CREATE OR REPLACE FUNCTION autopostr_user_id() RETURNS integer {definer} AS $$
            SELECT u.id FROM users u JOIN {LOGINS_TABLE} l ON u.email = l.email
            WHERE l.role_name = session_user $$""",
        # The connected user's role in a team, ranked: 0 none, 1 viewer, 2 editor, 3 owner.
        f"""CREATE OR REPLACE FUNCTION autopostr_rank(team integer) RETURNS integer {definer} AS $$
            SELECT COALESCE((SELECT CASE m.role {rank_case} ELSE 0 END FROM team_members m
            WHERE m.team_id = team AND m.user_id = autopostr_user_id()), 0) $$""",
        f"""CREATE OR REPLACE FUNCTION autopostr_post_rank(post integer) RETURNS integer
            {definer} AS $$ SELECT autopostr_rank((SELECT team_id FROM posts WHERE id = post)) $$""",
        f"""CREATE OR REPLACE FUNCTION autopostr_account_rank(account integer) RETURNS integer
            {definer} AS $$
            SELECT autopostr_rank((SELECT team_id FROM social_accounts WHERE id = account)) $$""",
        f"""CREATE OR REPLACE FUNCTION autopostr_media_rank(item integer) RETURNS integer
            {definer} AS $$ SELECT autopostr_rank((SELECT team_id FROM media WHERE id = item)) $$""",
        # A team nobody belongs to yet: the one its creator is inserting.
        f"""CREATE OR REPLACE FUNCTION autopostr_team_is_new(team integer) RETURNS boolean
            {definer} AS $$ SELECT NOT EXISTS (SELECT 1 FROM team_members WHERE team_id = team) $$""",
        f"""CREATE OR REPLACE FUNCTION autopostr_invited(team integer, wanted text) RETURNS boolean
            {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM team_invites i WHERE i.team_id = team
            AND (wanted IS NULL OR i.role = wanted) AND lower(i.email) = lower(autopostr_email())
            AND i.used_at IS NULL AND i.expires_at > now()) $$""",
        f"""CREATE OR REPLACE FUNCTION autopostr_shares_team(other integer) RETURNS boolean
            {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM team_members a JOIN team_members b
            ON a.team_id = b.team_id WHERE a.user_id = other AND b.user_id = autopostr_user_id()) $$""",
        f"""CREATE OR REPLACE FUNCTION autopostr_approval_required(team integer) RETURNS boolean
            {definer} AS $$ SELECT COALESCE((SELECT approval_required FROM teams
            WHERE id = team), false) $$""",
        f"""CREATE OR REPLACE FUNCTION autopostr_password_hash(who integer) RETURNS text
            {definer} AS $$ SELECT password_hash FROM users
            WHERE id = who AND id = autopostr_user_id() $$""",
        # Whether an account of the member's teams has a token, without reading it.
        f"""CREATE OR REPLACE FUNCTION autopostr_has_token(account integer, which text)
            RETURNS boolean {definer} AS $$
            SELECT CASE WHEN autopostr_account_rank(account) < {VIEW} THEN NULL
            WHEN which = 'access_token' THEN access_token IS NOT NULL
            WHEN which = 'refresh_token' THEN refresh_token IS NOT NULL END
            FROM social_accounts WHERE id = account $$""",
        # An owner's Checkout keeps the team's Stripe customer, the one column of the
        # plan's row a member writes; once kept, it stays (events find the team by it).
        f"""CREATE OR REPLACE FUNCTION autopostr_keep_customer(team integer, customer text)
            RETURNS text LANGUAGE plpgsql VOLATILE SECURITY DEFINER
            SET search_path = public, pg_temp AS $$
            DECLARE kept text;
            BEGIN
                IF autopostr_rank(team) < {OWN} THEN
                    RAISE EXCEPTION 'only an owner of team % keeps its Stripe customer', team
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                INSERT INTO subscriptions (team_id, plan, status, stripe_customer_id, updated_at)
                    VALUES (team, '{FREE_PLAN}', '{SubscriptionState.ACTIVE.value}', customer, now())
                    ON CONFLICT (team_id) DO UPDATE SET stripe_customer_id =
                        COALESCE(subscriptions.stripe_customer_id, EXCLUDED.stripe_customer_id),
                        updated_at = now()
                    RETURNING stripe_customer_id INTO kept;
                RETURN kept;
            END $$""",
        *(
            f"ALTER FUNCTION {fn} OWNER TO {_q(admin)}"
            for fn in (
                "autopostr_email()",
                "autopostr_user_id()",
                "autopostr_rank(integer)",
                "autopostr_post_rank(integer)",
                "autopostr_account_rank(integer)",
                "autopostr_media_rank(integer)",
                "autopostr_team_is_new(integer)",
                "autopostr_invited(integer, text)",
                "autopostr_shares_team(integer)",
                "autopostr_approval_required(integer)",
                "autopostr_has_token(integer, text)",
                "autopostr_password_hash(integer)",
                "autopostr_keep_customer(integer, text)",
            )
        ),
    ]


def _in(values: list[str] | frozenset[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


def _approval_guard(daemon: str, admins: list[str]) -> list[str]:
    """What a member's role may not do to a post, which needs the row as it was: reach a
    publish's outcome (only daemons publish), and, as an editor in a team that requires
    approval, approve a post (move it into approved content) or change approved content.
    Policies see only the new row, hence triggers."""
    approved = _in([s.value for s in APPROVED_CONTENT])
    # Who the guards leave alone: daemons, the administrator and superusers (members of
    # every role). Catalog lookups pg_has_role caches: the daemons' claim loop pays ~nothing.
    members_only = " AND ".join(
        f"NOT pg_has_role(session_user, '{name}', 'USAGE')" for name in [daemon, *admins]
    )
    outcomes = _in([PostState.PUBLISHING, PostState.PUBLISHED, PostState.PARTIALLY_PUBLISHED])
    return [
        f"""CREATE OR REPLACE FUNCTION autopostr_guard_post() RETURNS trigger LANGUAGE plpgsql
        SET search_path = public, pg_temp AS $$
        DECLARE
            before text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
        BEGIN
            IF NEW.status IN {outcomes} AND NEW.status IS DISTINCT FROM before THEN
                RAISE EXCEPTION 'only a daemon publishes: a post becomes % by publishing',
                    NEW.status USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$""",
        # Checked at commit, against the row as it ends up: the application edits a post
        # and then sends it back for approval in two statements.
        f"""CREATE OR REPLACE FUNCTION autopostr_check_approval() RETURNS trigger
        LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
        DECLARE
            now_status text;
            now_text text;
            now_comment text;
        BEGIN
            SELECT status, text, first_comment INTO now_status, now_text, now_comment
                FROM posts WHERE id = NEW.id;
            IF NOT FOUND OR now_status NOT IN {approved} OR autopostr_rank(NEW.team_id) >= {OWN}
                OR NOT autopostr_approval_required(NEW.team_id) THEN
                RETURN NULL;
            END IF;
            IF TG_OP = 'INSERT' OR OLD.status NOT IN {approved}
                OR now_text IS DISTINCT FROM OLD.text
                OR now_comment IS DISTINCT FROM OLD.first_comment THEN
                RAISE EXCEPTION 'approving a post (or changing approved content) needs the owner role'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NULL;
        END $$""",
        "DROP TRIGGER IF EXISTS autopostr_check_approval ON posts",
        "CREATE CONSTRAINT TRIGGER autopostr_check_approval AFTER INSERT OR UPDATE ON posts "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({members_only}) "
        "EXECUTE FUNCTION autopostr_check_approval()",
        "DROP TRIGGER IF EXISTS autopostr_guard_post ON posts",
        "CREATE TRIGGER autopostr_guard_post BEFORE INSERT OR UPDATE ON posts "
        f"FOR EACH ROW WHEN ({members_only}) EXECUTE FUNCTION autopostr_guard_post()",
    ]


def _member_policies() -> dict[str, list[tuple[str, str | None, str | None]]]:
    """Per table: (command, USING, WITH CHECK) of the member group's policies."""
    me = "autopostr_user_id()"
    team = "autopostr_rank(team_id)"
    # Approval needs the row before the change: a trigger (`_approval_guard`) checks it.
    post_ok = f"{team} >= {EDIT}"
    dest_ok = (
        f"autopostr_post_rank(post_id) >= {EDIT} AND "
        f"{sql_in('status', list(MEMBER_DESTINATION_STATES))}"
    )

    def team_rows(read: int, write: int) -> list[tuple[str, str | None, str | None]]:
        return [
            ("SELECT", f"{team} >= {read}", None),
            ("INSERT", None, f"{team} >= {write}"),
            ("UPDATE", f"{team} >= {write}", f"{team} >= {write}"),
            ("DELETE", f"{team} >= {write}", None),
        ]

    def via(fn: str, read: int, write: int) -> list[tuple[str, str | None, str | None]]:
        return [
            ("SELECT", f"{fn} >= {read}", None),
            ("INSERT", None, f"{fn} >= {write}"),
            ("UPDATE", f"{fn} >= {write}", f"{fn} >= {write}"),
            ("DELETE", f"{fn} >= {write}", None),
        ]

    own: list[tuple[str, str | None, str | None]] = [("ALL", f"user_id = {me}", f"user_id = {me}")]
    return {
        "users": [
            (
                "SELECT",
                f"id = {me} OR email = autopostr_email() OR autopostr_shares_team(id)",
                None,
            ),
            ("INSERT", None, "email = autopostr_email()"),
            ("UPDATE", f"id = {me}", f"id = {me}"),
        ],
        "sessions": own,
        "api_tokens": own,
        "teams": [
            (
                "SELECT",
                f"autopostr_rank(id) >= {VIEW} OR autopostr_team_is_new(id) "
                # A team one is invited to: its name, so the invitee knows what they join.
                "OR autopostr_invited(id, NULL)",
                None,
            ),
            ("INSERT", None, "true"),
            ("UPDATE", f"autopostr_rank(id) >= {OWN}", f"autopostr_rank(id) >= {OWN}"),
            ("DELETE", f"autopostr_rank(id) >= {OWN}", None),
        ],
        "team_members": [
            ("SELECT", f"{team} >= {VIEW} OR user_id = {me}", None),
            (
                "INSERT",
                None,
                f"{team} >= {OWN} OR (user_id = {me} AND ((role = '{Role.OWNER.value}' AND "
                "autopostr_team_is_new(team_id)) OR autopostr_invited(team_id, role)))",
            ),
            ("UPDATE", f"{team} >= {OWN}", f"{team} >= {OWN}"),
            ("DELETE", f"{team} >= {OWN} OR user_id = {me}", None),
        ],
        "team_invites": [
            ("SELECT", f"{team} >= {OWN} OR lower(email) = lower(autopostr_email())", None),
            ("INSERT", None, f"{team} >= {OWN}"),
            (
                "UPDATE",
                f"{team} >= {OWN} OR lower(email) = lower(autopostr_email())",
                # The invitee only marks it used: never unused again, to join once more.
                f"{team} >= {OWN} OR (lower(email) = lower(autopostr_email()) "
                "AND used_at IS NOT NULL)",
            ),
            ("DELETE", f"{team} >= {OWN}", None),
        ],
        "social_accounts": team_rows(VIEW, OWN),
        # The plan is what Stripe's events say: written by the daemons (and, for the
        # Stripe customer only, through autopostr_keep_customer), never by a member.
        "subscriptions": [("SELECT", f"{team} >= {VIEW}", None)],
        "media": team_rows(VIEW, EDIT),
        "import_tombstones": team_rows(VIEW, EDIT),
        "posts": [
            ("SELECT", f"{team} >= {VIEW}", None),
            ("INSERT", None, post_ok),
            ("UPDATE", f"{team} >= {EDIT}", post_ok),
            ("DELETE", f"{team} >= {EDIT}", None),
        ],
        "post_destinations": [
            ("SELECT", f"autopostr_post_rank(post_id) >= {VIEW}", None),
            ("INSERT", None, dest_ok),
            ("UPDATE", f"autopostr_post_rank(post_id) >= {EDIT}", dest_ok),
            ("DELETE", f"autopostr_post_rank(post_id) >= {EDIT}", None),
        ],
        "post_media": via("autopostr_post_rank(post_id)", VIEW, EDIT),
        "media_chunks": via("autopostr_media_rank(media_id)", VIEW, EDIT),
        "analytics_snapshots": via("autopostr_account_rank(account_id)", VIEW, EDIT),
        "analytics_daily": via("autopostr_account_rank(account_id)", VIEW, EDIT),
        "analytics_targets": via("autopostr_account_rank(account_id)", VIEW, EDIT),
        "publish_logs": [
            ("SELECT", f"{team} >= {VIEW}", None),
            ("INSERT", None, f"{team} >= {EDIT}"),
        ],
        "audit_log": [
            ("SELECT", f"{team} >= {OWN} OR user_id = {me}", None),
            ("INSERT", None, f"user_id = {me} AND (team_id IS NULL OR {team} >= {VIEW})"),
        ],
        "billing_events": [("SELECT", f"{team} >= {OWN}", None)],
        "code_posts": team_rows(VIEW, EDIT),
        "queue_pauses": team_rows(VIEW, EDIT),
        "post_series": team_rows(VIEW, EDIT),
        "evergreen_items": team_rows(VIEW, EDIT),
        "feeds": team_rows(VIEW, EDIT),
        "queue_schedules": via("autopostr_account_rank(account_id)", VIEW, EDIT),
        "queue_slots": via("autopostr_account_rank(account_id)", VIEW, EDIT),
        "series_posts": via(
            "autopostr_rank((SELECT s.team_id FROM post_series s WHERE s.id = series_id))",
            VIEW,
            EDIT,
        ),
        "feed_entries": via(
            "autopostr_rank((SELECT f.team_id FROM feeds f WHERE f.id = feed_id))", VIEW, EDIT
        ),
        "ai_usage": [
            ("SELECT", f"user_id = {me} OR {team} >= {VIEW}", None),
            ("INSERT", None, f"user_id = {me} AND (team_id IS NULL OR {team} >= {VIEW})"),
            (
                "UPDATE",
                f"user_id = {me}",
                f"user_id = {me} AND (team_id IS NULL OR {team} >= {VIEW})",
            ),
        ],
    }


def _columns(conn: Connection, table: str) -> list[str]:
    from sqlalchemy import text

    return [
        row[0]
        for row in conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = :t ORDER BY ordinal_position"
            ),
            {"t": table},
        )
    ]


def _member_grants(conn: Connection, member: str) -> list[str]:
    m = _q(member)
    readable_users = ", ".join(c for c in _columns(conn, "users") if c != "password_hash")
    readable_accounts = ", ".join(
        c for c in _columns(conn, "social_accounts") if c not in TOKEN_COLUMNS
    )
    grants = [
        f"GRANT SELECT ON {', '.join(SHARED_READ)} TO {m}",
        # A password hash is read through autopostr_password_hash(), one's own only.
        f"GRANT SELECT ({readable_users}), INSERT, "
        f"UPDATE (name, password_hash, timezone, current_team_id) ON users TO {m}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, api_tokens TO {m}",
        f"GRANT SELECT, INSERT, UPDATE (name, approval_required, approval_by), DELETE ON teams "
        f"TO {m}",
        f"GRANT SELECT, INSERT, UPDATE (role), DELETE ON team_members TO {m}",
        f"GRANT SELECT, INSERT, UPDATE (used_at, used_by), DELETE ON team_invites TO {m}",
        # The token columns are written (sealed) by members, read by daemons only.
        f"GRANT SELECT ({readable_accounts}), INSERT, UPDATE, DELETE ON social_accounts TO {m}",
        f"GRANT SELECT, INSERT, DELETE ON post_destinations TO {m}",
        f"GRANT UPDATE ({', '.join(DESTINATION_SCHEDULE_COLUMNS)}) ON post_destinations TO {m}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON posts, post_media, media, media_chunks, "
        f"import_tombstones, analytics_snapshots, analytics_daily, analytics_targets TO {m}",
        f"GRANT SELECT ON subscriptions, billing_events TO {m}",
        f"GRANT SELECT, INSERT ON publish_logs, audit_log TO {m}",
        # A request's row is finished by its answer; who, which team and when stay.
        f"GRANT SELECT, INSERT, UPDATE (prompt_tokens, completion_tokens, duration_ms, ok) "
        f"ON ai_usage TO {m}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(SCHEDULING_TABLES)} TO {m}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {m}",
    ]
    return grants


@dataclass
class SetupResult:
    member_group: str
    daemon_group: str
    admin: str
    tables: list[str]
    policies: int


def _admin_checks(conn: Connection) -> str:
    from sqlalchemy import text

    if conn.dialect.name != "postgresql":
        raise ConfigError(
            "database roles and row-level security are for a shared PostgreSQL; SQLite is one "
            "person's database and needs none"
        )
    if conn.execute(text("SELECT to_regclass('posts')")).scalar() is None:
        raise ConfigError(
            "the database has no autopostr schema yet: run `autopostr db upgrade` (or "
            "`autopostr init`) with the administrative URL first"
        )
    row = conn.execute(
        text(
            "SELECT current_user, r.rolsuper OR r.rolcreaterole, "
            "pg_has_role(current_user, (SELECT tableowner FROM pg_tables WHERE "
            "schemaname = current_schema() AND tablename = 'posts'), 'USAGE') "
            "FROM pg_roles r WHERE r.rolname = current_user"
        )
    ).one()
    if not row[1] or not row[2]:
        raise PermissionDenied(
            f"the database role {row[0]!r} cannot set up roles: connect with the "
            "administrative URL (the owner of autopostr's tables, allowed to create roles) "
            "in AUTOPOSTR_ADMIN_DATABASE_URL"
        )
    return str(row[0])


def _ensure_group(conn: Connection, name: str) -> None:
    from sqlalchemy import text

    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
    if exists is None:
        conn.execute(text(f"CREATE ROLE {_q(name)} NOLOGIN"))


def setup_roles(engine: Engine, prefix: str | None) -> SetupResult:
    """Create (or bring up to date) the group roles, privileges and policies; safe to run
    again, and needed again after a `db upgrade` that adds tables."""
    from sqlalchemy import text

    names = groups(prefix)
    with engine.begin() as conn:
        admin = _admin_checks(conn)
        # Two administrators running this at once would fight over the policies.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('autopostr setup-roles'))"))
        _ensure_group(conn, names.member)
        _ensure_group(conn, names.daemon)
        # The tables' owner (who migrates; may be a role the administrator belongs to)
        # is held back by forced RLS too: it sees every row, like the administrator.
        owner = str(
            conn.execute(
                text(
                    "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename = 'posts'"
                )
            ).scalar()
        )
        admin_roles = sorted({admin, owner})
        admins = ", ".join(f'"{name}"' for name in admin_roles)
        for statement in _functions(admin) + _approval_guard(names.daemon, admin_roles):
            conn.execute(text(statement))
        conn.execute(
            text(f"GRANT USAGE ON SCHEMA public TO {_q(names.member)}, {_q(names.daemon)}")
        )
        # The database's name in Stripe's metadata, made here: members read app_meta only.
        conn.execute(
            text(
                "INSERT INTO app_meta (key, value, updated_at) VALUES (:k, :v, now()) "
                "ON CONFLICT (key) DO NOTHING"
            ),
            {"k": INSTANCE_META_KEY, "v": secrets.token_hex(8)},
        )
        tables = [
            row[0]
            for row in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    f"AND tablename <> '{LOGINS_TABLE}'"
                )
            )
        ]
        missing = [t for t in RLS_TABLES if t not in tables]
        if missing:
            raise ConfigError(
                f"the database lacks autopostr's tables ({', '.join(missing)}): run "
                "`autopostr db upgrade` with the administrative URL first"
            )
        # Start from nothing, so a privilege taken away in a new version goes away here.
        quoted = ", ".join(f'"{t}"' for t in tables)
        for group in (names.member, names.daemon):
            conn.execute(text(f"REVOKE ALL ON {quoted} FROM {_q(group)}"))
        conn.execute(
            text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {quoted} TO {_q(names.daemon)}")
        )
        conn.execute(
            text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {_q(names.daemon)}")
        )
        for statement in _member_grants(conn, names.member):
            conn.execute(text(statement))
        count = 0
        policies = _member_policies()
        for table in RLS_TABLES:
            for (name,) in conn.execute(
                text(
                    "SELECT policyname FROM pg_policies WHERE schemaname = current_schema() "
                    "AND tablename = :t AND policyname LIKE 'autopostr_%'"
                ),
                {"t": table},
            ).all():
                conn.execute(text(f'DROP POLICY "{name}" ON {table}'))
            conn.execute(text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
            conn.execute(text(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"))
            # The administrator (who migrates) and the daemons see every row.
            conn.execute(
                text(
                    f"CREATE POLICY autopostr_admin ON {table} TO {admins} "
                    "USING (true) WITH CHECK (true)"
                )
            )
            conn.execute(
                text(
                    f"CREATE POLICY autopostr_daemon ON {table} TO {_q(names.daemon)} "
                    "USING (true) WITH CHECK (true)"
                )
            )
            count += 2
            for i, (command, using, check) in enumerate(policies[table]):
                sql = f"CREATE POLICY autopostr_member_{i} ON {table} FOR {command} TO {_q(names.member)}"
                if using is not None:
                    sql += f" USING ({using})"
                if check is not None:
                    sql += f" WITH CHECK ({check})"
                conn.execute(text(sql))
                count += 1
    return SetupResult(names.member, names.daemon, admin, list(RLS_TABLES), count)


# ---------------------------------------------------------------- login roles


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 7677): sent
    instead of the password, so the password never reaches the server's statement log."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def login_name(prefix: str, label: str) -> str:
    """A login role's name: readable, unique per e-mail, within PostgreSQL's 63 bytes."""
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:20] or "x"
    digest = hashlib.sha256(label.lower().encode("utf-8")).hexdigest()[:8]
    return f"{prefix}_{slug}_{digest}"


@dataclass
class Login:
    role_name: str
    kind: str
    email: str | None
    connection_url: str  # holds the password: shown once, never logged
    created: bool


def _url_for(admin_url: str, role: str, password: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(username=role, password=password, drivername="postgresql")
    return url.render_as_string(hide_password=False)


def grant_login(
    engine: Engine, admin_url: str, prefix: str | None, label: str, *, daemon: bool = False
) -> Login:
    """A login role for a member (by e-mail) or a daemon (by a label), with a new password;
    an existing one gets a new password (the old URL stops working)."""
    from sqlalchemy import text

    names = groups(prefix)
    label = label.strip().lower()
    if not label:
        raise InvalidInput("give the member's e-mail (or the daemon's name with --daemon)")
    kind = DAEMON if daemon else MEMBER
    group = names.daemon if daemon else names.member
    role = login_name(names.prefix, f"{kind}:{label}" if daemon else label)
    password = secrets.token_urlsafe(24)
    with engine.begin() as conn:
        _admin_checks(conn)
        ready = conn.execute(text("SELECT to_regclass(:t)"), {"t": LOGINS_TABLE}).scalar()
        group_exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": group}
        ).first()
        if ready is None or group_exists is None:
            raise ConfigError(
                f"the database has no autopostr roles with prefix {names.prefix!r} yet: run "
                "`autopostr db setup-roles` with the administrative URL first"
            )
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": role}
        ).first()
        verifier = scram_verifier(password)  # base64 and `$:`: nothing to escape
        if exists is None:
            # Raw: the verifier's colons are not bind parameters.
            conn.exec_driver_sql(
                f"CREATE ROLE {_q(role)} LOGIN PASSWORD '{verifier}' IN ROLE {_q(group)}"
            )
        else:
            conn.exec_driver_sql(f"ALTER ROLE {_q(role)} PASSWORD '{verifier}'")
        conn.execute(
            text(
                f"INSERT INTO {LOGINS_TABLE} (role_name, email, kind) VALUES (:r, :e, :k) "
                "ON CONFLICT (role_name) DO UPDATE SET email = EXCLUDED.email"
            ),
            {"r": role, "e": None if daemon else label, "k": kind},
        )
    return Login(
        role, kind, None if daemon else label, _url_for(admin_url, role, password), exists is None
    )


def revoke_login(engine: Engine, prefix: str | None, label: str, *, daemon: bool = False) -> str:
    """Drop a member's (or daemon's) login role: its connections stop at their next query."""
    from sqlalchemy import text

    names = groups(prefix)
    label = label.strip().lower()
    kind = DAEMON if daemon else MEMBER
    role = login_name(names.prefix, f"{kind}:{label}" if daemon else label)
    with engine.begin() as conn:
        _admin_checks(conn)
        if (
            conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": role}).first()
            is None
        ):
            raise NotFound(f"{label} has no database role here: see `autopostr db grant`")
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"),
            {"n": role},
        )
        conn.execute(text(f"DELETE FROM {LOGINS_TABLE} WHERE role_name = :n"), {"n": role})
        conn.execute(text(f"DROP OWNED BY {_q(role)}"))
        conn.execute(text(f"DROP ROLE {_q(role)}"))
    return role


# ---------------------------------------------------------------- what doctor reads


@dataclass
class Posture:
    role: str
    superuser: bool
    owner: bool  # owns autopostr's tables: bypasses RLS unless forced, and may drop it
    set_up: bool  # setup-roles ran here
    unguarded: list[str]  # tables that must have RLS (enabled and forced) and do not
    daemon: bool
    tokens_readable: bool


def posture(conn: Connection, prefix: str | None) -> Posture:
    from sqlalchemy import text

    names = groups(prefix)
    row = conn.execute(
        text(
            "SELECT current_user, r.rolsuper, "
            "pg_has_role(current_user, (SELECT tableowner FROM pg_tables WHERE "
            "schemaname = current_schema() AND tablename = 'posts'), 'USAGE'), "
            "to_regclass(:logins) IS NOT NULL, "
            "EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :daemon) AND "
            "pg_has_role(current_user, :daemon, 'USAGE'), "
            "has_column_privilege('social_accounts', 'access_token', 'SELECT') "
            "FROM pg_roles r WHERE r.rolname = current_user"
        ),
        {"logins": LOGINS_TABLE, "daemon": names.daemon},
    ).one()
    guarded = {
        r[0]
        for r in conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relrowsecurity AND c.relforcerowsecurity"
            )
        )
    }
    return Posture(
        role=str(row[0]),
        superuser=bool(row[1]),
        owner=bool(row[2]),
        set_up=bool(row[3]),
        unguarded=[t for t in RLS_TABLES if t not in guarded],
        daemon=bool(row[4]),
        tokens_readable=bool(row[5]),
    )


# ---------------------------------------------------------------- from the settings


def admin_engine(settings: Settings, *, required: bool = True) -> tuple[Engine, str] | None:
    """The engine and URL of AUTOPOSTR_ADMIN_DATABASE_URL (else AUTOPOSTR_DATABASE_URL when
    `required`: whoever runs `db setup-roles` may simply be the administrator)."""
    from autopostr.db import engine_for, parse_database_url

    raw = settings.get("admin_database_url") or (settings.database_url if required else None)
    if not raw:
        return None
    url = parse_database_url(raw)
    if url.dialect != "postgresql":
        if not required:
            return None
        raise ConfigError(
            "database roles and row-level security are for a shared PostgreSQL; SQLite is one "
            "person's database and needs none"
        )
    return engine_for(url), url.url


def setup_from(settings: Settings) -> SetupResult:
    found = admin_engine(settings)
    assert found is not None
    return setup_roles(found[0], settings.get("db_role_prefix"))


def grant_from(settings: Settings, label: str, *, daemon: bool = False) -> Login:
    found = admin_engine(settings)
    assert found is not None
    return grant_login(found[0], found[1], settings.get("db_role_prefix"), label, daemon=daemon)


def revoke_from(settings: Settings, label: str, *, daemon: bool = False) -> str:
    found = admin_engine(settings)
    assert found is not None
    return revoke_login(found[0], settings.get("db_role_prefix"), label, daemon=daemon)


def grant_on_invite(settings: Settings, email: str) -> Login | None:
    """A login role for an invitee, when this machine holds the administrative URL of a
    PostgreSQL set up with roles; None otherwise (the invitation alone)."""
    found = admin_engine(settings, required=False)
    if found is None:
        return None
    return grant_login(found[0], found[1], settings.get("db_role_prefix"), email)
