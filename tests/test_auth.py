"""`autopostr auth`: users, passwords, sessions and personal access tokens, on both engines.

Every test drives the real CLI; the database is read (and, to move time, written)
directly with the project's own `Database`, never mocked.
"""

from __future__ import annotations

import hashlib
import json
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from autopostr.models import ApiToken, Session, Team, TeamMember, User
from tests.helpers import Cli, KeyringSecrets, Run, database, db_session, key_file, run_autopostr

PASSWORD = "correct horse battery"
OTHER_PASSWORD = "another long password"
ANA = "ana@example.com"
BOB = "bob@example.com"


# ---------------------------------------------------------------- helpers


def now() -> datetime:
    return datetime.now(UTC)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def assert_error(run: Run, code: int, *fragments: str) -> str:
    """Exit code, nothing on stdout, exactly one `Error:` line on stderr, no traceback."""
    assert run.exit_code == code, (
        f"expected exit {code}, got {run.exit_code}\nstdout: {run.stdout}\n"
        f"stderr: {run.stderr}\nexception: {run.exception!r}"
    )
    assert run.exception is None, run.exception
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("Error: "), run.stderr
    assert "Traceback" not in run.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def register(
    cli: Cli, email: str = ANA, name: str = "Ana", password: str = PASSWORD, *extra: str
) -> Run:
    return cli(
        "auth",
        "register",
        "--email",
        email,
        "--name",
        name,
        "--password-stdin",
        *extra,
        input=f"{password}\n",
    )


def login(cli: Cli, email: str = ANA, password: str = PASSWORD, *extra: str) -> Run:
    return cli("auth", "login", "--email", email, "--password-stdin", *extra, input=f"{password}\n")


def whoami(cli: Cli, env: dict[str, str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = cli.ok("auth", "whoami", "--json", env=env).json()
    return data


def session_files(home: Path) -> list[Path]:
    return sorted((home / "secrets").glob("session-*"))


def stored_session_token(home: Path) -> str:
    files = session_files(home)
    assert len(files) == 1, files
    return files[0].read_text(encoding="utf-8").strip()


def session_row_for(token: str) -> Session | None:
    with db_session() as s:
        return s.exec(select(Session).where(Session.token_hash == sha256(token))).first()


def user_by_email(email: str) -> User:
    with db_session() as s:
        user = s.exec(select(User).where(User.email == email)).one()
    return user


def counts() -> dict[str, int]:
    with db_session() as s:
        return {
            model.__name__: int(s.exec(select(func.count()).select_from(model)).one())
            for model in (User, Team, TeamMember, Session, ApiToken)
        }


def all_cells(table: str) -> list[str]:
    """Every value of every row of a table, as text, read with plain SQL."""
    with db_session() as s:
        rows = s.connection().execute(text(f"SELECT * FROM {table}")).all()
    return [str(value) for row in rows for value in row]


def set_session_times(session_id: int, **times: datetime) -> None:
    with db_session() as s:
        row = s.get(Session, session_id)
        assert row is not None
        for name, value in times.items():
            setattr(row, name, value)
        s.add(row)


def set_token_times(token_id: int, **times: datetime) -> None:
    with db_session() as s:
        row = s.get(ApiToken, token_id)
        assert row is not None
        for name, value in times.items():
            setattr(row, name, value)
        s.add(row)


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no UTC offset"
    return parsed


# ---------------------------------------------------------------- register


def test_register_creates_user_with_personal_team_and_signs_in(initialized: str, cli: Cli) -> None:
    run = register(cli, "  Ana@Example.COM ", "Ana", PASSWORD, "--json")
    assert run.exit_code == 0, run.stderr
    assert "Warning" not in run.stderr
    created = run.json()
    assert created == {"id": created["id"], "email": ANA, "name": "Ana"}
    assert isinstance(created["id"], str) and created["id"].isdigit()

    me = whoami(cli)
    assert me["user"] == created
    assert me["via"] == "session"
    assert me["team"]["role"] == "owner"
    assert me["team"]["name"] == "Ana's team"
    assert isinstance(me["team"]["id"], str)

    with db_session() as s:
        user = s.exec(select(User).where(User.email == ANA)).one()
        team = s.get(Team, int(me["team"]["id"]))
        assert team is not None and team.personal
        members = s.exec(select(TeamMember).where(TeamMember.team_id == team.id)).all()
        assert [(m.user_id, m.role) for m in members] == [(user.id, "owner")]
        assert user.current_team_id == team.id
        sessions = s.exec(select(Session).where(Session.user_id == user.id)).all()
        assert len(sessions) == 1


def test_register_without_json_reports_on_stderr_only(initialized: str, cli: Cli) -> None:
    run = register(cli)
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert f"Signed in as {ANA}" in run.stderr
    assert whoami(cli)["user"]["email"] == ANA


def test_register_same_email_again_is_a_conflict_and_changes_nothing(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    assert register(cli).exit_code == 0
    before = counts()
    token_before = stored_session_token(isolated_env)
    hash_before = user_by_email(ANA).password_hash

    again = register(cli, "ANA@example.com", "Someone Else", OTHER_PASSWORD)
    assert_error(again, 5, "email", "already registered", "autopostr auth login")

    assert counts() == before
    assert stored_session_token(isolated_env) == token_before
    user = user_by_email(ANA)
    assert user.name == "Ana"
    assert user.password_hash == hash_before
    assert whoami(cli)["user"]["email"] == ANA


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        (ANA, "short", "password"),
        (ANA, "1234567", "password"),
        ("not-an-email", PASSWORD, "email"),
        ("ana@", PASSWORD, "email"),
        ("ana example@example.com", PASSWORD, "email"),
    ],
)
def test_register_rejects_bad_input_and_changes_nothing(
    initialized: str, cli: Cli, isolated_env: Path, email: str, password: str, field: str
) -> None:
    solo = whoami(cli)["user"]
    before = counts()
    token_before = stored_session_token(isolated_env)

    assert_error(register(cli, email, "Ana", password), 5, f"{field}:")

    assert counts() == before
    assert stored_session_token(isolated_env) == token_before
    assert whoami(cli)["user"] == solo


def test_register_with_empty_stdin_is_invalid_input(initialized: str, cli: Cli) -> None:
    before = counts()
    run = cli("auth", "register", "--email", ANA, "--password-stdin", input="")
    assert_error(run, 5, "password", "stdin")
    assert counts() == before


def test_register_without_stdin_flag_and_no_terminal_points_at_password_stdin(
    initialized: str, cli: Cli
) -> None:
    before = counts()
    run = cli("auth", "register", "--email", ANA, input=f"{PASSWORD}\n")
    assert_error(run, 5, "--password-stdin")
    assert counts() == before


@pytest.mark.parametrize("command", ["register", "login"])
def test_password_in_argv_is_not_an_option(initialized: str, cli: Cli, command: str) -> None:
    before = counts()
    run = cli("auth", command, "--email", ANA, "--password", PASSWORD)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert "--password" in run.stderr
    assert "No such option" in run.stderr
    assert PASSWORD not in run.stdout
    assert counts() == before


def test_two_registrations_of_one_email_at_once_end_in_a_conflict(initialized: str) -> None:
    """The loser of a race gets the same exit-5 conflict, not a database error.

    The second registration runs until the statement that must wait for the first, and
    only then does the first commit: on SQLite it queues for the write lock (BEGIN
    IMMEDIATE) and then finds the first; on PostgreSQL its lookup found nothing, so it is
    the unique index that refuses its INSERT.
    """
    from sqlalchemy import event

    from autopostr.errors import Conflict
    from autopostr.identity import create_user

    db = database()
    waits_for_the_first = {"sqlite": "BEGIN IMMEDIATE", "postgresql": "INSERT INTO users"}
    reached = threading.Event()
    refused: list[str] = []  # what the database refused of the second registration
    outcome: list[BaseException | None] = []

    def second_registration() -> None:
        try:
            with db.session() as s:
                create_user(s, "race@example.com", "Second", PASSWORD)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    racer = threading.Thread(target=second_registration)

    def before_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread() is racer and statement.startswith(
            waits_for_the_first[initialized]
        ):
            reached.set()

    def on_error(context: Any) -> None:
        if threading.current_thread() is racer:
            error = context.original_exception
            refused.append(getattr(error, "sqlstate", None) or type(error).__name__)

    event.listen(db.engine, "before_cursor_execute", before_execute)
    event.listen(db.engine, "handle_error", on_error)
    try:
        with db.session() as first:
            create_user(first, "race@example.com", "First", PASSWORD)
            racer.start()
            assert reached.wait(timeout=30), "the second registration never reached the first"
        racer.join(timeout=30)
    finally:
        event.remove(db.engine, "before_cursor_execute", before_execute)
        event.remove(db.engine, "handle_error", on_error)

    assert len(outcome) == 1
    assert isinstance(outcome[0], Conflict), repr(outcome[0])
    # 23505: unique_violation. SQLite refuses nothing: the second waited, then saw the first.
    assert refused == {"sqlite": [], "postgresql": ["23505"]}[initialized]
    assert user_by_email("race@example.com").name == "First"
    with db_session() as s:
        assert s.exec(select(func.count()).select_from(User)).one() == 2
        assert s.exec(select(func.count()).select_from(Team)).one() == 2


# ---------------------------------------------------------------- passwords at rest


def test_passwords_are_stored_scrypt_hashed_with_a_salt(initialized: str, cli: Cli) -> None:
    assert register(cli, ANA, "Ana", PASSWORD).exit_code == 0
    assert register(cli, BOB, "Bob", PASSWORD).exit_code == 0

    ana_hash = user_by_email(ANA).password_hash
    bob_hash = user_by_email(BOB).password_hash
    assert ana_hash is not None and bob_hash is not None
    for stored in (ana_hash, bob_hash):
        assert stored.startswith("scrypt$")
        scheme, n, r, p, salt, digest = stored.split("$")
        assert scheme == "scrypt"
        assert int(n) >= 2**14 and int(r) >= 8 and int(p) >= 1
        assert len(bytes.fromhex(salt)) >= 16
        assert len(bytes.fromhex(digest)) >= 32
    assert ana_hash != bob_hash, "the same password must hash differently (salt)"
    assert not any(PASSWORD in cell for cell in all_cells("users"))


# ---------------------------------------------------------------- login


def test_login_with_the_right_password_signs_in(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    created = register(cli, ANA, "Ana", PASSWORD, "--json").json()
    cli.ok("auth", "logout")
    assert session_files(isolated_env) == []

    run = login(cli, "  ANA@example.com ", PASSWORD, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json() == created
    me = whoami(cli)
    assert me["user"] == created
    assert me["via"] == "session"

    plain = login(cli)
    assert plain.exit_code == 0, plain.stderr
    assert plain.stdout == ""
    assert f"Signed in as {ANA}" in plain.stderr


def test_wrong_password_and_unknown_user_fail_alike(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    assert register(cli).exit_code == 0
    cli.ok("auth", "logout")
    before = counts()

    wrong = assert_error(login(cli, ANA, OTHER_PASSWORD), 4)
    unknown = assert_error(login(cli, "nobody@example.com", PASSWORD), 4)
    assert wrong == unknown
    assert "nobody" not in unknown

    assert counts() == before
    assert session_files(isolated_env) == []
    assert_error(cli("auth", "whoami"), 4, "autopostr auth login")


@pytest.mark.slow
def test_unknown_user_costs_the_same_scrypt_work_as_a_wrong_password(initialized: str) -> None:
    """Timing must not tell an attacker which emails are registered."""
    from autopostr.errors import PermissionDenied
    from autopostr.identity import authenticate, create_user

    with db_session() as s:
        create_user(s, ANA, "Ana", PASSWORD)

    def seconds(email: str) -> float:
        """The work done (this thread's CPU time), which a busy machine does not stretch
        as it stretches the wall clock."""
        with db_session() as s:
            start = time.thread_time()
            with pytest.raises(PermissionDenied):
                authenticate(s, email, OTHER_PASSWORD)
            return time.thread_time() - start

    known = min(seconds(ANA) for _ in range(4))
    unknown = min(seconds("nobody@example.com") for _ in range(4))
    assert 0.6 < unknown / known < 1.5, (known, unknown)


def test_failed_login_keeps_the_current_session(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    assert register(cli).exit_code == 0
    token = stored_session_token(isolated_env)
    assert_error(login(cli, ANA, OTHER_PASSWORD), 4)
    assert stored_session_token(isolated_env) == token
    assert whoami(cli)["user"]["email"] == ANA


# ---------------------------------------------------------------- logout


def test_logout_ends_the_session_and_whoami_says_how_to_sign_in(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    token = stored_session_token(isolated_env)
    assert session_row_for(token) is not None

    run = cli.ok("auth", "logout")
    assert run.stdout == ""
    assert "Signed out" in run.stderr

    assert session_row_for(token) is None
    assert session_files(isolated_env) == []
    assert_error(cli("auth", "whoami"), 4, "autopostr auth login")
    assert_error(cli("auth", "whoami", "--json"), 4, "autopostr auth login")

    again = cli.ok("auth", "logout")
    assert "Not signed in" in again.stderr


def test_a_signed_out_token_cannot_be_reused(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    """A copy of the session file made before logout is worthless afterwards."""
    files = session_files(isolated_env)
    saved = files[0].read_text(encoding="utf-8")
    cli.ok("auth", "logout")
    files[0].write_text(saved, encoding="utf-8")
    assert_error(cli("auth", "whoami"), 4, "autopostr auth login")


# ---------------------------------------------------------------- sessions at rest


def test_session_token_is_kept_in_a_0600_file_and_only_its_hash_in_the_database(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    files = session_files(isolated_env)
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((isolated_env / "secrets").stat().st_mode) == 0o700

    token = stored_session_token(isolated_env)
    assert len(token) >= 32
    row = session_row_for(token)
    assert row is not None
    assert row.token_hash == sha256(token)
    cells = all_cells("sessions")
    assert cells, "the sessions table should hold the signed-in session"
    assert not any(token in cell for cell in cells)

    # A second sign-in overwrites the same file, still 0600, still hashed.
    assert register(cli).exit_code == 0
    second = stored_session_token(isolated_env)
    assert second != token
    assert stat.S_IMODE(session_files(isolated_env)[0].stat().st_mode) == 0o600
    assert not any(second in cell for cell in all_cells("sessions"))


# ---------------------------------------------------------------- expiry and sliding


def test_an_expired_session_is_refused(initialized: str, cli: Cli, isolated_env: Path) -> None:
    row = session_row_for(stored_session_token(isolated_env))
    assert row is not None and row.id is not None
    set_session_times(row.id, expires_at=now() - timedelta(minutes=1))

    assert_error(cli("auth", "whoami"), 4, "expired", "autopostr auth login")
    assert_error(cli("auth", "sessions", "--json"), 4, "expired")

    # Still refused on the next try, and signing in again fixes it.
    assert_error(cli("auth", "whoami"), 4, "expired")
    assert register(cli).exit_code == 0
    assert whoami(cli)["user"]["email"] == ANA


def test_using_a_session_slides_its_expiry_to_seven_days(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    row = session_row_for(stored_session_token(isolated_env))
    assert row is not None and row.id is not None
    two_days_ago = now() - timedelta(days=2)
    set_session_times(
        row.id,
        created_at=two_days_ago,
        last_used_at=two_days_ago,
        expires_at=two_days_ago + timedelta(days=7),
    )

    before = now()
    whoami(cli)
    after = now()

    slid = session_row_for(stored_session_token(isolated_env))
    assert slid is not None
    assert before - timedelta(seconds=1) <= slid.last_used_at <= after + timedelta(seconds=1)
    assert (
        before + timedelta(days=7) - timedelta(seconds=1)
        <= slid.expires_at
        <= after + timedelta(days=7) + timedelta(seconds=1)
    )
    assert slid.created_at == two_days_ago


def test_a_session_about_to_expire_is_kept_alive_by_use(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    row = session_row_for(stored_session_token(isolated_env))
    assert row is not None and row.id is not None
    set_session_times(
        row.id,
        last_used_at=now() - timedelta(days=6, hours=23),
        expires_at=now() + timedelta(minutes=30),
    )
    whoami(cli)
    slid = session_row_for(stored_session_token(isolated_env))
    assert slid is not None
    assert slid.expires_at > now() + timedelta(days=6, hours=23)


# ---------------------------------------------------------------- sessions and revoke


def test_sessions_lists_mine_with_the_current_one_marked(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    assert register(cli).exit_code == 0
    first = session_row_for(stored_session_token(isolated_env))
    assert login(cli).exit_code == 0
    second = session_row_for(stored_session_token(isolated_env))
    assert first is not None and second is not None and first.id != second.id

    run = cli.ok("auth", "sessions", "--json")
    listed = run.json()
    assert isinstance(listed, list)
    assert [s["id"] for s in listed] == [str(first.id), str(second.id)]
    assert [s["current"] for s in listed] == [False, True]
    for entry in listed:
        assert set(entry) >= {"id", "label", "created_at", "last_used_at", "expires_at", "current"}
        assert isinstance(entry["id"], str)
        assert parse_time(entry["expires_at"]) > now() + timedelta(days=6)
        parse_time(entry["created_at"])
        parse_time(entry["last_used_at"])

    table = cli.ok("auth", "sessions")
    assert str(second.id) in table.stdout
    assert "*" in table.stdout


def test_sessions_hide_expired_ones_and_other_users(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    solo_session = session_row_for(stored_session_token(isolated_env))
    assert solo_session is not None
    assert register(cli).exit_code == 0
    first = session_row_for(stored_session_token(isolated_env))
    assert login(cli).exit_code == 0
    assert first is not None and first.id is not None
    set_session_times(first.id, expires_at=now() - timedelta(seconds=5))

    ids = [s["id"] for s in cli.ok("auth", "sessions", "--json").json()]
    assert str(first.id) not in ids
    assert str(solo_session.id) not in ids
    assert len(ids) == 1


def test_revoke_ends_another_session_of_mine(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    assert register(cli).exit_code == 0
    old_token = stored_session_token(isolated_env)
    old = session_row_for(old_token)
    assert login(cli).exit_code == 0
    assert old is not None

    run = cli.ok("auth", "revoke", "--yes", str(old.id))
    assert run.stdout == ""
    assert f"Session {old.id} revoked" in run.stderr

    assert session_row_for(old_token) is None
    listed = cli.ok("auth", "sessions", "--json").json()
    assert [s["current"] for s in listed] == [True]
    assert whoami(cli)["user"]["email"] == ANA

    # The revoked session no longer signs anyone in.
    (session_files(isolated_env)[0]).write_text(old_token + "\n", encoding="utf-8")
    assert_error(cli("auth", "whoami"), 4, "autopostr auth login")


def test_revoking_an_unknown_session_is_not_found(initialized: str, cli: Cli) -> None:
    before = counts()
    assert_error(cli("auth", "revoke", "999999"), 3, "999999", "autopostr auth sessions")
    assert counts() == before


def test_revoking_someone_elses_session_is_not_found_and_keeps_it(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    solo_token = stored_session_token(isolated_env)
    solo_session = session_row_for(solo_token)
    assert solo_session is not None
    assert register(cli).exit_code == 0  # now signed in as Ana

    assert_error(cli("auth", "revoke", str(solo_session.id)), 3, "not found")
    assert session_row_for(solo_token) is not None


def test_revoke_needs_a_numeric_id(initialized: str, cli: Cli) -> None:
    run = cli("auth", "revoke", "abc")
    assert run.exit_code == 2
    assert run.stdout == ""


# ---------------------------------------------------------------- access tokens


def create_token(cli: Cli, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = cli.ok(
        "auth", "token", "create", "--name", "ci", "--json", *extra
    ).json()
    return data


def test_token_create_returns_the_token_once_and_stores_only_its_hash(
    initialized: str, cli: Cli
) -> None:
    created = create_token(cli)
    token = created["token"]
    assert isinstance(created["id"], str)
    assert created["name"] == "ci"
    assert created["status"] == "active"
    assert created["expires_at"] is None
    assert token.startswith(created["prefix"])
    assert len(token) >= 32

    with db_session() as s:
        row = s.get(ApiToken, int(created["id"]))
        assert row is not None
        assert row.token_hash == sha256(token)
    assert not any(token in cell for cell in all_cells("api_tokens"))

    listed = cli.ok("auth", "token", "list", "--json")
    assert token not in listed.stdout
    entries = listed.json()
    assert [e["id"] for e in entries] == [created["id"]]
    assert "token" not in entries[0]
    assert entries[0]["name"] == "ci"
    assert entries[0]["status"] == "active"

    table = cli.ok("auth", "token", "list")
    assert token not in table.stdout + table.stderr
    assert "ci" in table.stdout


def test_token_create_without_json_prints_only_the_token_on_stdout(
    initialized: str, cli: Cli
) -> None:
    run = cli.ok("auth", "token", "create", "--name", "cron")
    token = run.stdout.strip()
    assert run.stdout == token + "\n"
    assert token not in run.stderr
    assert "shown only now" in run.stderr
    assert whoami(cli, env={"AUTOPOSTR_TOKEN": token})["via"] == "token"


def test_a_token_signs_in_without_a_session(initialized: str, cli: Cli, isolated_env: Path) -> None:
    solo = whoami(cli)
    token = create_token(cli)["token"]
    cli.ok("auth", "logout")
    assert session_files(isolated_env) == []

    env = {"AUTOPOSTR_TOKEN": token}
    me = whoami(cli, env=env)
    assert me["via"] == "token"
    assert me["user"] == solo["user"]
    assert me["team"]["role"] == "owner"

    human = cli.ok("auth", "whoami", env=env)
    assert "access token" in human.stdout

    listed = cli.ok("auth", "token", "list", "--json", env=env)
    assert token not in listed.stdout
    assert len(listed.json()) == 1

    with db_session() as s:
        row = s.exec(select(ApiToken)).one()
        assert row.last_used_at is not None

    # Without the variable the machine is still signed out.
    assert_error(cli("auth", "whoami"), 4, "autopostr auth login")


def test_a_mistyped_token_is_refused(initialized: str, cli: Cli) -> None:
    token = create_token(cli)["token"]
    run = cli("auth", "whoami", env={"AUTOPOSTR_TOKEN": token[:-2] + "xx"})
    assert_error(run, 4, "AUTOPOSTR_TOKEN", "autopostr auth token create")
    assert token not in run.stderr


def test_a_revoked_token_stops_working(initialized: str, cli: Cli) -> None:
    created = create_token(cli)
    env = {"AUTOPOSTR_TOKEN": created["token"]}
    assert whoami(cli, env=env)["via"] == "token"

    run = cli.ok("auth", "token", "revoke", "--yes", created["id"])
    assert run.stdout == ""
    assert f"Token {created['id']} revoked" in run.stderr

    assert_error(cli("auth", "whoami", env=env), 4, "revoked")
    entries = cli.ok("auth", "token", "list", "--json").json()
    assert [(e["id"], e["status"]) for e in entries] == [(created["id"], "revoked")]
    # Revoking again is harmless.
    cli.ok("auth", "token", "revoke", "--yes", created["id"])


def test_an_expired_token_is_refused(initialized: str, cli: Cli) -> None:
    before = now()
    created = create_token(cli, "--expires-in", "1h")
    expires_at = parse_time(created["expires_at"])
    assert before + timedelta(minutes=59) <= expires_at <= now() + timedelta(hours=1, seconds=1)
    env = {"AUTOPOSTR_TOKEN": created["token"]}
    assert whoami(cli, env=env)["via"] == "token"

    set_token_times(int(created["id"]), expires_at=now() - timedelta(seconds=1))
    assert_error(cli("auth", "whoami", env=env), 4, "expired", "autopostr auth token create")
    entries = cli.ok("auth", "token", "list", "--json").json()
    assert entries[0]["status"] == "expired"


@pytest.mark.parametrize("lifetime", ["abc", "0d", "1y", "-1h", "1.5h"])
def test_token_create_rejects_a_bad_lifetime(initialized: str, cli: Cli, lifetime: str) -> None:
    before = counts()
    run = cli("auth", "token", "create", "--name", "ci", "--expires-in", lifetime)
    assert_error(run, 5, "--expires-in")
    assert counts() == before


def test_token_create_needs_a_name(initialized: str, cli: Cli) -> None:
    before = counts()
    assert_error(cli("auth", "token", "create", "--name", "  "), 5, "--name")
    assert counts() == before


def test_token_commands_need_a_sign_in(initialized: str, cli: Cli) -> None:
    cli.ok("auth", "logout")
    assert_error(cli("auth", "token", "create", "--name", "ci"), 4, "autopostr auth login")
    assert_error(cli("auth", "token", "list"), 4, "autopostr auth login")
    with db_session() as s:
        assert s.exec(select(func.count()).select_from(ApiToken)).one() == 0


def test_revoking_unknown_or_someone_elses_token_is_not_found(initialized: str, cli: Cli) -> None:
    solo_token = create_token(cli)
    assert register(cli).exit_code == 0  # now Ana

    assert_error(cli("auth", "token", "revoke", "999999"), 3, "999999")
    assert_error(cli("auth", "token", "revoke", solo_token["id"]), 3, "not found")
    assert cli.ok("auth", "token", "list", "--json").json() == []

    env = {"AUTOPOSTR_TOKEN": solo_token["token"]}
    assert whoami(cli, env=env)["user"]["email"].endswith("@localhost")


# ---------------------------------------------------------------- cleanup job


def test_cleanup_expired_sessions_deletes_only_expired_ones(initialized: str, cli: Cli) -> None:
    from autopostr.identity import cleanup_expired_sessions, start_session

    with db_session() as s:
        user = s.exec(select(User)).one()
        expired_long_ago, _ = start_session(s, user, "old laptop")
        expired_just_now, _ = start_session(s, user, "stolen phone")
        alive, alive_token = start_session(s, user, "desk")
        expired_long_ago.expires_at = now() - timedelta(days=30)
        expired_just_now.expires_at = now() - timedelta(seconds=1)
        s.add(expired_long_ago)
        s.add(expired_just_now)
    before = counts()["Session"]

    with db_session() as s:
        assert cleanup_expired_sessions(s) == 2

    with db_session() as s:
        remaining = {row.id for row in s.exec(select(Session)).all()}
    assert counts()["Session"] == before - 2
    assert alive.id in remaining
    assert not ({expired_long_ago.id, expired_just_now.id} & remaining)

    # Nothing left to clean; the signed-in user and the surviving session still work.
    with db_session() as s:
        assert cleanup_expired_sessions(s) == 0
    assert whoami(cli)["user"]["email"].endswith("@localhost")
    assert session_row_for(alive_token) is not None


def test_cleanup_expired_sessions_honours_the_time_it_is_given(initialized: str) -> None:
    from autopostr.identity import cleanup_expired_sessions

    with db_session() as s:
        total = int(s.exec(select(func.count()).select_from(Session)).one())
        assert total == 1
        assert cleanup_expired_sessions(s, now=now() + timedelta(days=1)) == 0
    with db_session() as s:
        assert cleanup_expired_sessions(s, now=now() + timedelta(days=8)) == 1
    assert counts()["Session"] == 0


# ---------------------------------------------------------------- auth password


def test_solo_user_sets_a_password_and_login_then_requires_it(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    solo = whoami(cli)["user"]
    assert user_by_email(solo["email"]).password_hash is None

    run = cli.ok("auth", "password", "--password-stdin", input=f"{PASSWORD}\n")
    assert run.stdout == ""
    assert "Password updated" in run.stderr
    stored = user_by_email(solo["email"]).password_hash
    assert stored is not None and stored.startswith("scrypt$")
    assert PASSWORD not in stored

    cli.ok("auth", "logout")
    # A password is now required, on SQLite too.
    no_password = cli("auth", "login", "--email", solo["email"])
    assert_error(no_password, 5, "--password-stdin")
    assert_error(login(cli, solo["email"], OTHER_PASSWORD), 4)
    assert session_files(isolated_env) == []

    assert login(cli, solo["email"], PASSWORD).exit_code == 0
    assert whoami(cli)["user"] == solo


def test_auth_password_changes_an_existing_password(initialized: str, cli: Cli) -> None:
    assert register(cli).exit_code == 0
    cli.ok("auth", "password", "--password-stdin", input=f"{OTHER_PASSWORD}\n")
    cli.ok("auth", "logout")
    assert_error(login(cli, ANA, PASSWORD), 4)
    assert login(cli, ANA, OTHER_PASSWORD).exit_code == 0


def test_auth_password_rejects_a_short_password(initialized: str, cli: Cli) -> None:
    email = whoami(cli)["user"]["email"]
    assert_error(cli("auth", "password", "--password-stdin", input="short\n"), 5, "password")
    assert user_by_email(email).password_hash is None


def test_auth_password_needs_a_sign_in(initialized: str, cli: Cli) -> None:
    email = whoami(cli)["user"]["email"]
    cli.ok("auth", "logout")
    run = cli("auth", "password", "--password-stdin", input=f"{PASSWORD}\n")
    assert_error(run, 4, "autopostr auth login")
    assert user_by_email(email).password_hash is None


def test_passwordless_solo_user_login_depends_on_the_engine(initialized: str, cli: Cli) -> None:
    """A local SQLite file's owner may sign back in; a shared server demands a password."""
    email = whoami(cli)["user"]["email"]
    cli.ok("auth", "logout")
    run = cli("auth", "login", "--email", email)
    if initialized == "sqlite":
        assert run.exit_code == 0, run.stderr
        assert whoami(cli)["user"]["email"] == email
    else:
        assert_error(run, 5, "--password-stdin")
        assert_error(login(cli, email, PASSWORD), 4, "no password yet", "autopostr auth password")


# ---------------------------------------------------------------- keyring


def test_with_a_keyring_the_session_token_lives_there_not_in_a_file(
    engine: str, cli: Cli, isolated_env: Path, memory_keyring: KeyringSecrets
) -> None:
    init = cli.ok("init", "--json").json()
    assert init["key_source"] == "keyring"

    assert session_files(isolated_env) == []
    assert not key_file(isolated_env).exists()
    session_tokens = [
        value
        for (service, account), value in memory_keyring.secrets.items()
        if service == "autopostr" and ":session-" in account
    ]
    assert len(session_tokens) == 1
    token = session_tokens[0]
    row = session_row_for(token)
    assert row is not None
    assert not any(token in cell for cell in all_cells("sessions"))
    assert whoami(cli)["user"]["email"] == init["user_created"]

    register_run = register(cli)
    assert register_run.exit_code == 0
    assert "Warning" not in register_run.stderr
    assert session_files(isolated_env) == []
    assert whoami(cli)["user"]["email"] == ANA

    cli.ok("auth", "logout")
    assert not any(":session-" in account for _service, account in memory_keyring.secrets)
    assert_error(cli("auth", "whoami"), 4, "autopostr auth login")


# ---------------------------------------------------------------- the real entry point


@pytest.mark.slow
def test_login_from_a_pipe_in_a_real_process(initialized: str, cli: Cli) -> None:
    assert register(cli).exit_code == 0
    cli.ok("auth", "logout")

    wrong = run_autopostr(
        "auth", "login", "--email", ANA, "--password-stdin", input=f"{OTHER_PASSWORD}\n"
    )
    assert wrong.returncode == 4
    assert wrong.stdout == ""
    assert wrong.stderr.startswith("Error: ")
    assert "Traceback" not in wrong.stderr

    right = run_autopostr(
        "auth", "login", "--email", ANA, "--password-stdin", "--json", input=f"{PASSWORD}\n"
    )
    assert right.returncode == 0, right.stderr
    assert json.loads(right.stdout)["email"] == ANA
    assert whoami(cli)["user"]["email"] == ANA
