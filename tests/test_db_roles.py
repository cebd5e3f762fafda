"""A shared PostgreSQL as the wall: each member connects as a login role of their own
under row-level security, daemons as the daemon role. The SQL here is raw (psycopg, as
someone who copied a URL into psql would type it), not the CLI.

Roles are cluster-wide and other runs use the same server: every role a test makes
carries a prefix of this run's and test's own, and is dropped at the end.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fakes.http_server import Answer, ScriptedServer
from tests.helpers import (
    PASSWORD,
    Cli,
    Team,
    approval_workflow,
    make_due,
    matrix_failures,
    new_post,
    one_error_line,
    run_once,
)

ACME = "team_id = (SELECT id FROM teams WHERE name = 'Acme')"


@dataclass
class Shared:
    """A PostgreSQL set up with roles: the solo user (owner of "Acme" and of the tables,
    i.e. the administrator) and people who connect as their own login roles."""

    cli: Cli
    tmp_path: Path
    admin_url: str
    prefix: str
    homes: dict[str, dict[str, str]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def grant(self, email: str) -> str:
        url = self.cli.ok("db", "grant", email, "--json").json()["connection_url"]
        self.urls[email] = url
        return str(url)

    def person(self, email: str) -> dict[str, str]:
        """Someone with a login role and a home of their own, registered as themselves."""
        url = self.grant(email)
        env = {
            "AUTOPOSTR_HOME": str(self.tmp_path / f"home-{email.split('@')[0]}"),
            "AUTOPOSTR_DATABASE_URL": url,
            "AUTOPOSTR_ADMIN_DATABASE_URL": "",
        }
        self.cli.ok(
            "auth", "register", "--email", email, "--password-stdin", input=PASSWORD, env=env
        )
        self.homes[email] = env
        return env

    def member(self, email: str, role: str) -> dict[str, str]:
        env = self.person(email)
        token = self.cli.ok("team", "invite", email, "--role", role, "--json").json()["token"]
        self.cli.ok("team", "join", "--token-stdin", input=token, env=env)
        return env

    def sql(self, email: str) -> psycopg.Connection[Any]:
        return psycopg.connect(self.urls[email], autocommit=True)


def _drop_roles(admin_url: str, prefix: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s ORDER BY rolname DESC",
                (prefix + "\\_%",),
            )
        ]
        for name in names:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
        for name in names:
            conn.execute(f'DROP OWNED BY "{name}"')
        for name in names:
            conn.execute(f'DROP ROLE "{name}"')


@pytest.fixture
def roles(
    postgres_only: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Shared]:
    """A PostgreSQL after `init` and `db setup-roles`, the solo user its administrator."""
    from tests.helpers import reset_postgres

    admin_url = os.environ["AUTOPOSTR_DATABASE_URL"]
    prefix = f"apt{os.getpid()}_{secrets.token_hex(3)}"
    monkeypatch.setenv("AUTOPOSTR_DB_ROLE_PREFIX", prefix)
    monkeypatch.setenv("AUTOPOSTR_ADMIN_DATABASE_URL", admin_url)
    cli.ok("init")
    cli.ok("db", "setup-roles")
    try:
        yield Shared(cli, tmp_path, admin_url, prefix)
    finally:
        # The policies name the roles: the schema goes first, then the roles.
        reset_postgres(admin_url)
        _drop_roles(admin_url, prefix)


@pytest.fixture
def shared(roles: Shared, cli: Cli) -> Shared:
    """The administrator's team "Acme" with a sandbox account `sandbox:acme`."""
    cli.ok("team", "create", "Acme")
    cli.ok("accounts", "add", "sandbox", "--handle", "acme")
    return roles


def _posts(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT id, text, status FROM posts ORDER BY id").fetchall()


def _one(conn: psycopg.Connection[Any], statement: str) -> Any:
    row = conn.execute(statement).fetchone()
    assert row is not None
    return row[0]


def _denied(conn: psycopg.Connection[Any], statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_setup_roles_guards_every_team_table_and_is_repeatable(shared: Shared, cli: Cli) -> None:
    from autopostr.dbroles import RLS_TABLES

    again = cli.ok("db", "setup-roles", "--json").json()
    assert set(again["tables"]) == set(RLS_TABLES)
    assert again["member_role"] == f"{shared.prefix}_member"
    with psycopg.connect(shared.admin_url) as conn:
        rows: dict[str, bool] = dict(
            conn.execute(
                "SELECT relname, relrowsecurity AND relforcerowsecurity FROM pg_class "
                "WHERE relname = ANY(%s)",
                (list(RLS_TABLES),),
            ).fetchall()
        )
    assert rows == dict.fromkeys(RLS_TABLES, True)


def test_a_viewer_in_raw_sql_cannot_write_nor_see_other_teams_nor_read_secrets(
    shared: Shared, cli: Cli
) -> None:
    new_post(cli, "acme post", to="sandbox:acme")
    shared.member("vi@example.com", "viewer")
    # Another team, of someone else, with a post of its own.
    other = shared.person("out@example.com")
    cli.ok("accounts", "add", "sandbox", "--handle", "outside", env=other)
    cli.ok("posts", "create", "--to", "sandbox:outside", "--text", "outside post", env=other)
    with shared.sql("vi@example.com") as conn:
        seen = _posts(conn)
        assert [text for _, text, _ in seen] == ["acme post"]  # not the other team's
        assert conn.execute("UPDATE posts SET text = 'defaced'").rowcount == 0
        assert conn.execute("DELETE FROM posts").rowcount == 0
        assert conn.execute("DELETE FROM post_destinations").rowcount == 0
        assert conn.execute(f"UPDATE team_members SET role = 'owner' WHERE {ACME}").rowcount == 0
        _denied(conn, "SELECT access_token FROM social_accounts")
        _denied(conn, "SELECT id FROM social_accounts WHERE refresh_token IS NOT NULL")
        _denied(conn, "SELECT * FROM autopostr_logins")
        _denied(conn, "SELECT password_hash FROM users")
        assert _one(conn, "SELECT count(autopostr_password_hash(id)) FROM users") == 1  # own
        # Sessions and invitations: only their own rows.
        sessions = conn.execute("SELECT DISTINCT user_id FROM sessions").fetchall()
        me = _one(conn, "SELECT autopostr_user_id()")
        assert sessions == [(me,)]
        assert _one(conn, "SELECT count(*) FROM team_invites") == 1  # their own
        assert _one(conn, "SELECT count(*) FROM api_tokens") == 0
        teams = {r[0] for r in conn.execute("SELECT name FROM teams")}
        assert "Acme" in teams and not any("out" in t for t in teams)
    with psycopg.connect(shared.admin_url) as admin:
        assert [t for _, t, _ in _posts(admin)] == ["acme post", "outside post"]
    # The member's own doctor: no key here, so it asks for the public key to seal to …
    _, checks = _doctor(cli, **shared.homes["vi@example.com"])
    assert "keys migrate" in checks["encryption key decrypts stored secrets"]["fix"]
    # … after which every check passes, and row security names their role.
    cli.ok("keys", "migrate")
    code, checks = _doctor(cli, **shared.homes["vi@example.com"])
    assert code == 0, {n: c for n, c in checks.items() if c["status"] == "fail"}
    assert checks["row-level security"]["status"] == "ok"
    assert "a member's role" in checks["row-level security"]["detail"]


def test_an_editor_in_raw_sql_cannot_approve_change_roles_or_touch_another_team(
    shared: Shared, cli: Cli
) -> None:
    cli.ok("team", "settings", "--approval-required")
    editor = shared.member("ed@example.com", "editor")
    post = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:acme",
        "--text",
        "mine",
        "--at",
        "+2h",
        "--json",
        env=editor,
    ).json()["status"]
    assert post == "pending_approval"
    with shared.sql("ed@example.com") as conn:
        post_id = _one(conn, "SELECT id FROM posts WHERE text = 'mine'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # approving: the owner's
            conn.execute("UPDATE posts SET status = 'scheduled' WHERE id = %s", (post_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE posts SET status = 'approved' WHERE id = %s", (post_id,))
        assert conn.execute(f"UPDATE team_members SET role = 'owner' WHERE {ACME}").rowcount == 0
        assert (
            conn.execute("UPDATE teams SET approval_required = false WHERE name = 'Acme'").rowcount
            == 0
        )
        _denied(conn, f"UPDATE subscriptions SET plan = 'pro' WHERE {ACME}")
        assert conn.execute(f"UPDATE social_accounts SET handle = 'x' WHERE {ACME}").rowcount == 0
        assert (
            conn.execute(f"UPDATE social_accounts SET access_token = 'x' WHERE {ACME}").rowcount
            == 0
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO team_members (team_id, user_id, role, created_at) "
                "SELECT id, autopostr_user_id(), 'owner', now() FROM teams WHERE name = 'Acme'"
            )
        # A destination's outcome is the daemons' to write.
        _denied(conn, "UPDATE post_destinations SET remote_id = 'fake', url = 'x'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE post_destinations SET status = 'published'")
        # Another team is not there to touch.
        assert (
            conn.execute(
                "DELETE FROM posts WHERE team_id <> (SELECT team_id FROM posts WHERE id = %s)",
                (post_id,),
            ).rowcount
            == 0
        )
    with psycopg.connect(shared.admin_url) as admin:
        assert admin.execute("SELECT status FROM posts WHERE id = %s", (post_id,)).fetchone() == (
            "pending_approval",
        )


def test_the_daemon_role_publishes_as_today(shared: Shared, cli: Cli) -> None:
    daemon_url = cli.ok("db", "grant", "--daemon", "host1", "--json").json()["connection_url"]
    post = new_post(cli, "go", "--at", "+1h", to="sandbox:acme")
    make_due(int(post))
    outcomes = run_once(cli, AUTOPOSTR_DATABASE_URL=daemon_url, AUTOPOSTR_ADMIN_DATABASE_URL="")
    assert [o["status"] for o in outcomes] == ["published"]
    _, checks = _doctor(cli, AUTOPOSTR_DATABASE_URL=daemon_url)
    assert checks["row-level security"]["status"] == "ok", checks["row-level security"]
    assert "daemon" in checks["row-level security"]["detail"]


def test_only_a_daemon_gives_a_team_its_own_key_and_no_owner_swaps_it_in_raw_sql(
    shared: Shared, cli: Cli
) -> None:
    """A team's public key decides who can open its tokens: an owner who put their own
    there would open every token a member connects afterwards."""
    shared.member("ow@example.com", "owner")
    with shared.sql("ow@example.com") as conn:
        _denied(conn, "UPDATE teams SET sealing_public_key = 'k.x' WHERE name = 'Acme'")
        # They read it, to seal to it.
        assert _one(conn, "SELECT count(sealing_public_key) FROM teams WHERE name = 'Acme'") == 0
    daemon_url = cli.ok("db", "grant", "--daemon", "host1", "--json").json()["connection_url"]
    on_daemon_role = {"AUTOPOSTR_DATABASE_URL": daemon_url, "AUTOPOSTR_ADMIN_DATABASE_URL": ""}
    cli.ok("keys", "migrate", env=on_daemon_role)
    moved = cli.ok("keys", "migrate", "--team", "Acme", "--json", env=on_daemon_role).json()
    with shared.sql("ow@example.com") as conn:
        public = _one(conn, "SELECT sealing_public_key FROM teams WHERE name = 'Acme'")
        assert str(public).startswith(moved["key"] + ".")
    post = new_post(cli, "go", "--at", "+1h", to="sandbox:acme")
    make_due(int(post))
    outcomes = run_once(cli, **on_daemon_role)
    assert [o["status"] for o in outcomes] == ["published"]


def test_removal_from_the_team_cuts_raw_access_at_once(shared: Shared, cli: Cli) -> None:
    new_post(cli, "acme post", to="sandbox:acme")
    shared.member("ed@example.com", "editor")
    with shared.sql("ed@example.com") as conn:
        assert len(_posts(conn)) == 1
        cli.ok("team", "remove", "--yes", "ed@example.com")
        assert _posts(conn) == []  # the same open connection
        # Nor can they join again with the invitation they used.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE team_invites SET used_at = NULL, used_by = NULL")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO team_members (team_id, user_id, role, created_at) SELECT "
                "team_id, autopostr_user_id(), role, now() FROM team_invites"
            )
        # Nor write into the team's audit trail.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO audit_log (team_id, user_id, action, target_type, target_id, "
                "details, created_at) SELECT team_id, autopostr_user_id(), 'x', '', '', '{}', "
                "now() FROM team_invites"
            )


def test_a_member_removing_themselves_or_others_is_checked(shared: Shared, cli: Cli) -> None:
    shared.member("vi@example.com", "viewer")
    shared.member("ed@example.com", "editor")
    with shared.sql("vi@example.com") as conn:
        assert (
            conn.execute("DELETE FROM team_members WHERE user_id <> autopostr_user_id()").rowcount
            == 0
        )


def _doctor(cli: Cli, **env: str) -> tuple[int, dict[str, dict[str, str]]]:
    run = cli("doctor", "--json", env={**env, "AUTOPOSTR_ADMIN_DATABASE_URL": ""})
    assert run.exception is None, run
    return run.exit_code, {c["name"]: c for c in run.json()}


def test_doctor_names_the_superuser_and_missing_row_security(shared: Shared, cli: Cli) -> None:
    _, checks = _doctor(cli)
    assert checks["row-level security"]["status"] == "warn"
    assert "superuser" in checks["row-level security"]["detail"]
    assert "db grant" in checks["row-level security"]["fix"]
    with psycopg.connect(shared.admin_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE posts NO FORCE ROW LEVEL SECURITY")
    code, checks = _doctor(cli)
    assert code != 0
    assert checks["row-level security"]["status"] == "fail"
    assert "posts" in checks["row-level security"]["detail"]
    assert "setup-roles" in checks["row-level security"]["fix"]


def test_doctor_before_setup_warns_and_sqlite_is_unchanged(initialized: str, cli: Cli) -> None:
    _, checks = _doctor(cli)
    check = checks["row-level security"]
    if initialized == "sqlite":
        assert check["status"] == "ok" and "SQLite" in check["detail"]
        run = cli("db", "setup-roles")
        assert run.exit_code != 0 and "PostgreSQL" in run.stderr
    else:
        assert check["status"] == "warn" and "setup-roles" in check["fix"]


def _own_role(roles: Shared, email: str = "m@example.com") -> dict[str, str]:
    return {"AUTOPOSTR_DATABASE_URL": roles.grant(email), "AUTOPOSTR_ADMIN_DATABASE_URL": ""}


@pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
def test_the_permission_matrix_holds_with_the_member_on_their_own_role(
    roles: Shared, cli: Cli, tmp_path: Path, role: str
) -> None:
    team = Team(cli, tmp_path, role, member_env=_own_role(roles))
    failures = matrix_failures(cli, team, role, frozenset({"posts unpublish"}))
    assert not failures, "\n".join(failures)


def test_the_approval_workflow_holds_with_the_editor_on_their_own_role(
    roles: Shared, cli: Cli, tmp_path: Path
) -> None:
    approval_workflow(cli, Team(cli, tmp_path, "editor", member_env=_own_role(roles)))


def test_db_documents(roles: Shared, cli: Cli) -> None:
    setup = cli.ok("db", "setup-roles", "--json").json()
    assert list(setup) == ["member_role", "daemon_role", "admin_role", "tables", "policies"]
    login = cli.ok("db", "grant", "x@example.com", "--json").json()
    assert list(login) == ["role", "kind", "email", "created", "connection_url"]
    assert login["created"] and login["kind"] == "member" and login["email"] == "x@example.com"
    again = cli.ok("db", "grant", "x@example.com", "--json").json()
    assert not again["created"] and again["connection_url"] != login["connection_url"]
    # A member's URL cannot set up roles nor hand out logins.
    as_member = {
        "AUTOPOSTR_DATABASE_URL": again["connection_url"],
        "AUTOPOSTR_ADMIN_DATABASE_URL": "",
    }
    for args in (("db", "setup-roles"), ("db", "grant", "y@example.com")):
        refused = cli(*args, env=as_member)
        assert refused.exit_code == 4 and "administrative URL" in refused.stderr, refused
    revoked = cli.ok("db", "grant", "x@example.com", "--revoke", "--json").json()
    assert revoked == {"role": login["role"], "revoked": True}
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(again["connection_url"], connect_timeout=5).close()


def test_an_invitation_brings_the_invitees_own_database_url(
    shared: Shared, cli: Cli, tmp_path: Path
) -> None:
    invited = cli.ok("team", "invite", "new@example.com", "--role", "viewer", "--json").json()
    url = invited["connection_url"]
    assert url and f"{shared.prefix}_new_example_com" in url
    human = cli.ok("team", "invite", "other@example.com", "--role", "viewer")
    assert "postgresql://" in human.stdout and "never on a command line" in human.stderr
    env = {
        "AUTOPOSTR_HOME": str(tmp_path / "new"),
        "AUTOPOSTR_DATABASE_URL": url,
        "AUTOPOSTR_ADMIN_DATABASE_URL": "",
    }
    cli.ok(
        "auth",
        "register",
        "--email",
        "new@example.com",
        "--password-stdin",
        input=PASSWORD,
        env=env,
    )
    cli.ok("team", "join", "--token-stdin", input=invited["token"], env=env)
    assert cli.ok("team", "members", "--json", env=env).json()


def test_a_member_on_their_role_without_keys_connects_an_account_the_daemon_role_publishes(
    roles: Shared, cli: Cli, tmp_path: Path, hook: ScriptedServer
) -> None:
    cli.ok("keys", "migrate")
    team = Team(cli, tmp_path, "owner", member_env=_own_role(roles))
    credentials = json.dumps(
        {"handle": "site", "url": f"{hook.url}/api/webhooks/7/SECRETPATH", "secret": "s3cr3t"}
    )
    cli.ok("accounts", "add", "webhook", input=credentials, env=team.member)
    post = cli.ok(
        "posts",
        "create",
        "--to",
        "webhook:site",
        "--text",
        "hi",
        "--at",
        "+1h",
        "--json",
        env=team.member,
    ).json()["id"]
    refused = cli("accounts", "test", "webhook:site", env=team.member)
    assert refused.exit_code == 4 and "daemon" in refused.stderr
    assert "SECRETPATH" not in cli.ok("accounts", "list", "--json", env=team.member).stdout
    make_due(int(post))
    daemon_url = cli.ok("db", "grant", "--daemon", "host1", "--json").json()["connection_url"]
    hook.push(Answer(200, {"id": "r1"}))
    outcomes = run_once(cli, AUTOPOSTR_DATABASE_URL=daemon_url, AUTOPOSTR_ADMIN_DATABASE_URL="")
    assert [o["status"] for o in outcomes] == ["published"]
    assert hook.received[-1].path == "/api/webhooks/7/SECRETPATH"


def test_a_member_signs_in_on_their_role_by_their_own_password_hash_alone(
    shared: Shared, cli: Cli
) -> None:
    env = shared.person("ed@example.com")
    cli.ok("auth", "logout", env=env)
    login = ("auth", "login", "--email", "ed@example.com", "--password-stdin")
    assert cli(*login, input="wrong password\n", env=env).exit_code == 4
    cli.ok(*login, input=PASSWORD + "\n", env=env)
    assert cli.ok("auth", "whoami", "--json", env=env).json()["user"]["email"] == "ed@example.com"


def test_daemons_on_the_daemon_role_one_killed_publish_everything_exactly_once(
    roles: Shared, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    """The chaos test of test_daemon_chaos, the daemons connected as the daemon role."""
    import signal
    import subprocess
    from collections import Counter
    from datetime import UTC, datetime

    from sqlmodel import select

    from autopostr.models import PostDestination
    from tests.helpers import Daemons, db_session, sandbox_lines, wait_until

    cli.ok("accounts", "add", "sandbox", "--handle", "chaos")
    total = 300
    due = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0).isoformat()
    path = tmp_path / "many.csv"
    rows = "".join(f"post {i},sandbox:chaos,{due}\n" for i in range(total))
    path.write_text("text,accounts,at\n" + rows, encoding="utf-8")
    cli.ok("posts", "import", str(path))
    daemon_url = cli.ok("db", "grant", "--daemon", "chaos", "--json").json()["connection_url"]

    def states() -> Counter[str]:
        with db_session() as session:
            return Counter(session.exec(select(PostDestination.status)).all())

    def calls() -> Counter[int]:
        return Counter(e["destination_id"] for e in sandbox_lines(isolated_env, "chaos"))

    fast = {
        "AUTOPOSTR_LEASE_SECONDS": "2",
        "AUTOPOSTR_HEARTBEAT_SECONDS": "0.5",
        "AUTOPOSTR_POLL_SECONDS": "1",
        "NO_COLOR": "1",
        "AUTOPOSTR_DATABASE_URL": daemon_url,
        "AUTOPOSTR_ADMIN_DATABASE_URL": "",
        "AUTOPOSTR_SANDBOX_LATENCY_MS": "100",
    }
    group = Daemons(fast, stdout=subprocess.DEVNULL)
    try:
        victim = group.start("--concurrency", "4")
        for _ in range(2):
            group.start("--concurrency", "4")
        wait_until(lambda: sum(calls().values()) >= 60, 60, "publishing to start", every=0.2)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        wait_until(
            lambda: sum(states()[s] for s in ("published", "needs_review", "failed")) == total,
            120,
            "every destination to settle",
            every=0.2,
        )
    finally:
        group.kill_all()
    final = states()
    assert final["failed"] == 0 and final["needs_review"] <= 4
    assert final["published"] + final["needs_review"] == total
    assert max(calls().values()) == 1, "a destination was published twice"


def test_the_password_reaches_the_server_only_as_the_verifier_libpq_would_make(
    postgres_database: str,
) -> None:
    import base64
    from unittest import mock

    from autopostr import dbroles

    with psycopg.connect(postgres_database) as conn:
        reference = conn.pgconn.encrypt_password(b"s3cret-pw", b"x", b"scram-sha-256").decode()
    iterations, salt = reference.split("$")[1].split(":")
    with mock.patch("autopostr.dbroles.secrets.token_bytes", return_value=base64.b64decode(salt)):
        assert dbroles.scram_verifier("s3cret-pw", int(iterations)) == reference


def test_an_owner_on_their_role_pays_through_checkout_but_writes_no_plan(
    shared: Shared, cli: Cli, stripe: Any
) -> None:
    """A team's plan is what Stripe's events say: an owner's own role keeps the team's
    Stripe customer (Checkout) and nothing else of billing; the daemons apply events."""
    with psycopg.connect(shared.admin_url) as admin:
        acme = _one(admin, "SELECT id FROM teams WHERE name = 'Acme'")  # not theirs
    owner = shared.person("own@example.com")
    cli.ok("team", "create", "Own", env=owner)
    session = cli.ok("billing", "checkout", "pro", "--no-browser", "--json", env=owner).json()
    with shared.sql("own@example.com") as conn:
        own = "team_id = (SELECT id FROM teams WHERE name = 'Own')"
        customer = _one(conn, f"SELECT stripe_customer_id FROM subscriptions WHERE {own}")
        assert customer.startswith("cus_")
        assert _one(conn, f"SELECT plan FROM subscriptions WHERE {own}") == "free"
        _denied(conn, f"UPDATE subscriptions SET plan = 'team', status = 'active' WHERE {own}")
        _denied(conn, f"DELETE FROM subscriptions WHERE {own}")
        _denied(
            conn,
            "INSERT INTO subscriptions (team_id, plan, status, updated_at) "
            "SELECT id, 'team', 'active', now() FROM teams WHERE name = 'Own'",
        )
        _denied(
            conn,
            "INSERT INTO billing_events (id, type, created, outcome, source, detail, "
            "received_at) VALUES ('evt_forged', 'x', now(), 'applied', 'sync', '', now())",
        )
        # Nor move AI requests out of the month (or the team) they count in.
        _denied(conn, "UPDATE ai_usage SET created_at = now() - interval '40 days'")
        _denied(conn, "UPDATE ai_usage SET team_id = NULL")
        # The customer is kept once, and only for a team one owns.
        assert (
            _one(
                conn,
                "SELECT autopostr_keep_customer(id, 'cus_other') FROM teams WHERE name = 'Own'",
            )
            == customer
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT autopostr_keep_customer(%s, 'cus_mine')", (acme,))
    refused = cli("billing", "sync", env=owner)
    assert refused.exit_code == 4 and "daemon" in one_error_line(refused.stderr)
    # Paid, and the events applied where plans are written (here: the administrator's URL).
    stripe.complete_checkout(session["id"])
    cli.ok("billing", "sync")
    status = cli.ok("billing", "status", "--json", env=owner).json()
    assert (status["plan"], status["status"]) == ("pro", "active")
