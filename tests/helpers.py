"""What the tests share besides fixtures (those live in conftest.py): running the CLI and
the daemon, reading and moving the database, and the set-ups many files need.

Test files import from here, never from conftest.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from typer.testing import CliRunner

from autopostr.config import load_settings
from autopostr.db import Database

if TYPE_CHECKING:
    from sqlmodel import Session

    from autopostr.platforms.base import MediaItem

T = TypeVar("T")

# ---------------------------------------------------------------- the CLI


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self) -> Any:
        return json.loads(self.stdout)


@functools.cache
def _typer_app() -> Any:
    """The app, with the Click command Typer builds from it made once per run: Typer
    rebuilds it on every invocation (~70 ms for our 65 commands), which a test suite of
    thousands of invocations need not pay."""
    import typer.main
    import typer.testing

    from autopostr.cli.app import app

    command = typer.main.get_command(app)
    build = typer.testing._get_command
    typer.testing._get_command = lambda typer_instance: (
        command if typer_instance is app else build(typer_instance)
    )
    return app


class Cli:
    """Runs the real Typer app in-process, stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Run:
        app = _typer_app()
        result = self.runner.invoke(app, list(args), input=input, env=env, catch_exceptions=True)
        exception = result.exception if not isinstance(result.exception, SystemExit) else None
        return Run(result.exit_code, result.stdout, result.stderr, exception)

    def ok(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
        run = self(*args, input=input, env=env)
        assert run.exit_code == 0, (
            f"autopostr {' '.join(args)} exited {run.exit_code}\n"
            f"stdout: {run.stdout}\nstderr: {run.stderr}\nexception: {run.exception!r}"
        )
        return run


def run_autopostr(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process, as a user's shell runs it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "autopostr", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=timeout,
    )


def one_error_line(stderr: str, *, never: tuple[str, ...] = ("unexpected",)) -> str:
    """The single `Error: …` line a refusal prints; none of `never` may be in it."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    for words in never:
        assert words not in lines[0], stderr
    return lines[0]


def doctor(cli: Cli, **env: str) -> tuple[int, dict[str, dict[str, str]]]:
    """`doctor --json`: its exit code and its checks by name."""
    run = cli("doctor", "--json", env=env or None)
    assert run.exception is None, run
    return run.exit_code, {c["name"]: c for c in run.json()}


# ---------------------------------------------------------------- the database


def database() -> Database:
    """The database the environment points at, as every command opens it."""
    return Database(load_settings())


def reset_postgres(url: str) -> None:
    """An empty PostgreSQL database: no tables, no schema version."""
    import psycopg

    from autopostr.db import dispose_engines

    dispose_engines()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@contextmanager
def db_session() -> Iterator[Session]:
    with database().session() as session:
        yield session


def make_due(post_id: int, ago: timedelta = timedelta(seconds=1)) -> None:
    """What time passing does to a scheduled post: its moment is now in the past."""
    from sqlmodel import select

    from autopostr.models import Post, PostDestination, utcnow

    with db_session() as session:
        post = session.get(Post, post_id)
        assert post is not None
        moment = utcnow() - ago
        post.scheduled_at = moment
        session.add(post)
        for dest in session.exec(select(PostDestination).where(PostDestination.post_id == post_id)):
            if dest.due_at is not None:
                dest.due_at = moment
                session.add(dest)


def due_again() -> None:
    """Time passes until every retry is due."""
    from sqlmodel import select

    from autopostr.models import PostDestination, utcnow
    from autopostr.states import DestinationState

    with db_session() as session:
        for dest in session.exec(
            select(PostDestination).where(PostDestination.status == DestinationState.RETRYING)
        ):
            dest.next_attempt_at = utcnow()
            session.add(dest)


def age_media(media_id: int, hours: float) -> None:
    """What time passing does to an upload."""
    from autopostr.models import Media, utcnow

    with db_session() as session:
        item = session.get(Media, media_id)
        assert item is not None
        item.created_at = item.updated_at = utcnow() - timedelta(hours=hours)
        session.add(item)


# ---------------------------------------------------------------- posts and publishing


def new_post(cli: Cli, text: str = "Hello", *args: str, to: str = "sandbox:demo") -> str:
    """`posts create` (a draft unless `args` say `--at`): the new post's id."""
    data = cli.ok("posts", "create", "--to", to, "--text", text, *args, "--json").json()
    return str(data["id"])


def due_post(cli: Cli, text: str = "Hello", *args: str, to: str = "sandbox:demo") -> str:
    """A post scheduled for later whose moment has come: the daemon's next pass takes it."""
    post_id = new_post(cli, text, "--at", "+1h", *args, to=to)
    make_due(int(post_id))
    return post_id


def run_once(cli: Cli, **env: str) -> list[dict[str, Any]]:
    """One pass of the daemon (`daemon run --once --json`): what came of each due
    destination. Exit 6 only says that one of them failed."""
    run = cli("daemon", "run", "--once", "--json", env=env or None)
    assert run.exit_code in (0, 6), run.stderr
    return list(run.json())


def only_outcome(cli: Cli, **env: str) -> dict[str, Any]:
    """One pass of the daemon that finds exactly one due destination: its outcome."""
    [outcome] = run_once(cli, **env)
    return dict(outcome)


def destination(cli: Cli, post_id: str) -> dict[str, Any]:
    """The post's first (usually only) destination, as `posts show --json` has it."""
    return dict(cli.ok("posts", "show", post_id, "--json").json()["destinations"][0])


def sandbox_lines(home: Path, handle: str = "demo") -> list[dict[str, Any]]:
    """What the sandbox platform received for `handle`, one entry per call."""
    path = home / "sandbox" / f"{handle}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def media_item(
    source: Path | bytes, mime: str, name: str | None = None, *, id: int = 1, **fields: Any
) -> MediaItem:
    """A media item as the publisher hands it to an adapter, its bytes from a file or
    from memory (`name` is then the file name it goes by)."""
    from autopostr.platforms.base import MediaItem

    if isinstance(source, Path):
        path = source
        data = path.read_bytes()
        filename = name or path.name

        def open_file() -> io.BufferedReader:
            return path.open("rb")

        opener: Callable[[], Any] = open_file
    else:
        data = source
        assert name is not None, "bytes in memory need a file name"
        filename = name
        opener = functools.partial(io.BytesIO, data)
    return MediaItem(
        id=id,
        filename=filename,
        mime_type=mime,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        open=opener,
        **fields,
    )


CSV_HEADER = "text,accounts,at,timezone,media,first_comment,status,external_id\n"


def write_csv(tmp_path: Path, body: str, name: str = "posts.csv", header: str = CSV_HEADER) -> Path:
    """A file for `posts import`: the header, then `body`'s rows."""
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


# ---------------------------------------------------------------- daemons

# A heartbeat a second, so `daemon status` sees a started daemon at once.
QUICK = {"AUTOPOSTR_HEARTBEAT_SECONDS": "1"}


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    *,
    every: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = (),
    details: Callable[[], object] | None = None,
) -> T:
    """Ask `condition` every `every` seconds until it answers something true, and return
    that. `retry_on`: errors that mean "ask again" (a database restarting under the test);
    `details`: what to add to the failure when time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except retry_on:
            pass
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            more = f"; {details()}" if details is not None else ""
            raise AssertionError(f"timed out waiting for {what}{more}")
        time.sleep(every)


class Daemons:
    """`autopostr daemon run` child processes, always killed at the end of the test.

    `settings`: environment every daemon gets (on top of the test's own); `stdout`: where
    their output goes (DEVNULL for daemons that publish more than a pipe holds). Their
    log (stderr) goes to a file each: a daemon blocked writing to a full pipe that nobody
    reads holds its claims, and the account they are for, for ever."""

    def __init__(
        self, settings: dict[str, str] | None = None, *, stdout: int = subprocess.PIPE
    ) -> None:
        self.settings = dict(QUICK if settings is None else settings)
        self.stdout = stdout
        self.procs: list[subprocess.Popen[str]] = []
        self.logs: dict[int, IO[str]] = {}

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        log = tempfile.TemporaryFile("w+", encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "autopostr", "daemon", "run", *args],
            env={**os.environ, **self.settings, **env},
            stdout=self.stdout,
            stderr=log,
            text=True,
        )
        self.procs.append(proc)
        self.logs[proc.pid] = log
        return proc

    def log(self, proc: subprocess.Popen[str]) -> str:
        """What the daemon wrote to stderr so far."""
        log = self.logs[proc.pid]
        log.seek(0)
        return log.read()

    def stop(self, proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str]:
        """SIGTERM, then its exit code and stderr."""
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=timeout)
        return proc.returncode, self.log(proc)

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.communicate(timeout=10)
            except (subprocess.TimeoutExpired, ValueError):
                pass
        for log in self.logs.values():
            log.close()


# ---------------------------------------------------------------- keys and keyrings


def key_file(home: Path) -> Path:
    """Where `init` keeps the key set when there is no keyring."""
    return home / "secrets" / "encryption-keys"


class KeyringSecrets:
    """What the in-memory keyring (the `memory_keyring` fixture) holds, for the test to
    look inside: (service, username) -> secret."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}


# ---------------------------------------------------------------- teams

PASSWORD = "correct horse battery"


class Team:
    """The solo user's new team "Acme" with a sandbox account, and a member of `role`
    signed in from a home of their own: run commands as them with `as_member`.
    `approval`: the team requires approval of its editors' posts."""

    def __init__(
        self,
        cli: Cli,
        tmp_path: Path,
        role: str = "editor",
        *,
        email: str = "m@example.com",
        handle: str = "acme",
        approval: bool = False,
        member_env: dict[str, str] | None = None,
    ) -> None:
        self.cli = cli
        self.tmp_path = tmp_path
        self.handle = handle
        # member_env: e.g. the member's own database URL (a login role of theirs).
        self.member = {"AUTOPOSTR_HOME": str(tmp_path / "member-home"), **(member_env or {})}
        cli.ok(
            "auth",
            "register",
            "--email",
            email,
            "--password-stdin",
            input=PASSWORD + "\n",
            env=self.member,
        )
        cli.ok("team", "create", "Acme")
        cli.ok("accounts", "add", "sandbox", "--handle", handle)
        token = cli.ok("team", "invite", email, "--role", role, "--json").json()["token"]
        cli.ok("team", "join", "--token-stdin", input=token, env=self.member)
        if approval:
            cli.ok("team", "settings", "--approval-required")
        self.counter = 0

    def as_member(self, *args: str) -> Run:
        return self.cli(*args, env=self.member)

    def post(self, *extra: str) -> str:
        """A post of the owner's, each with a text of its own."""
        self.counter += 1
        return new_post(self.cli, f"p{self.counter}", *extra, to=f"sandbox:{self.handle}")

    def published(self) -> str:
        """A post that went out, for commands that take one down."""
        post = self.post()
        self.cli.ok("posts", "publish", post)
        return post

    def media(self) -> str:
        from tests.media_samples import image

        self.counter += 1
        path = image(self.tmp_path / f"m{self.counter}.png", "PNG", seed=self.counter)
        return str(self.cli.ok("media", "upload", str(path), "--json").json()[0]["id"])

    def pending(self) -> str:
        """A post waiting for approval, as an editor's post in an approval team would be."""
        from autopostr.models import Post
        from autopostr.states import PostState

        post_id = self.post("--at", "+2h")
        with db_session() as session:
            post = session.get(Post, int(post_id))
            assert post is not None
            post.status = PostState.PENDING_APPROVAL
            session.add(post)
        return post_id


# ---------------------------------------------------------------- the permission matrix

ROLE_RANK = {"viewer": 0, "editor": 1, "owner": 2}


Builder = Callable[[Team], list[str]]


def _upload_image(team: Team) -> str:
    from tests.media_samples import image

    return str(image(team.tmp_path / "up.png", "PNG", seed=99))


def csv_file(team: Team) -> str:
    path = team.tmp_path / f"import{team.counter}.csv"
    team.counter += 1
    path.write_text(f"text,accounts\nimported {team.counter},sandbox:acme\n", encoding="utf-8")
    return str(path)


# (command, the lowest role allowed, how to build its arguments as the owner prepares things)
MATRIX: list[tuple[str, str, Builder]] = [
    (
        "posts create",
        "editor",
        lambda t: ["posts", "create", "--to", "sandbox:acme", "--text", "by member"],
    ),
    ("posts edit", "editor", lambda t: ["posts", "edit", t.post(), "--text", "edited"]),
    ("posts delete", "editor", lambda t: ["posts", "delete", t.post(), "--yes"]),
    ("posts unpublish", "editor", lambda t: ["posts", "unpublish", t.published(), "--yes"]),
    ("posts schedule", "editor", lambda t: ["posts", "schedule", t.post(), "+3h"]),
    ("posts unschedule", "editor", lambda t: ["posts", "unschedule", t.post("--at", "+3h")]),
    ("posts publish", "editor", lambda t: ["posts", "publish", t.post()]),
    ("posts import", "editor", lambda t: ["posts", "import", csv_file(t)]),
    ("calendar move", "editor", lambda t: ["calendar", "move", t.post("--at", "+3h"), "+4h"]),
    (
        "media upload",
        "editor",
        lambda t: ["media", "upload", _upload_image(t)],
    ),
    ("media rm", "editor", lambda t: ["media", "rm", "--yes", t.media()]),
    (
        "accounts add",
        "owner",
        lambda t: ["accounts", "add", "sandbox", "--handle", f"new{t.counter}"],
    ),
    ("accounts disconnect", "owner", lambda t: ["accounts", "disconnect", "--yes", "sandbox:acme"]),
    ("team invite", "owner", lambda t: ["team", "invite", "z@example.com", "--role", "viewer"]),
    ("team role", "owner", lambda t: ["team", "role", "m@example.com", "viewer"]),
    ("team settings", "owner", lambda t: ["team", "settings", "--no-approval-required"]),
    ("team audit", "owner", lambda t: ["team", "audit"]),
    ("posts approve", "owner", lambda t: ["posts", "approve", t.pending()]),
    ("posts reject", "owner", lambda t: ["posts", "reject", t.pending(), "--comment", "no"]),
    ("team remove", "owner", lambda t: ["team", "remove", "--yes", "m@example.com"]),
]


def matrix_failures(
    cli: Cli, team: Team, role: str, daemons_only: frozenset[str] = frozenset()
) -> list[str]:
    """Every command of MATRIX run as the team's member of `role`: what went otherwise
    than the matrix says (allowed: exit 0; refused: exit 4 naming the lowest role).
    `daemons_only`: commands that, allowed, are refused naming the daemons instead (a
    member's own database role cannot read tokens)."""
    failures = []
    for name, lowest, build in MATRIX:
        args = build(team)
        run = cli(*args, env=team.member)
        allowed = ROLE_RANK[role] >= ROLE_RANK[lowest]
        if allowed and name in daemons_only:
            if run.exit_code != 4 or "daemon" not in run.stderr:
                failures.append(f"{role} {name}: expected exit 4 naming the daemons: {run}")
        elif allowed and run.exit_code != 0:
            failures.append(
                f"{role} {name}: expected allowed, got {run.exit_code}: {run.stderr.strip()}"
            )
        if not allowed and (run.exit_code != 4 or lowest not in run.stderr):
            failures.append(
                f"{role} {name}: expected exit 4 naming {lowest}, got {run.exit_code}: "
                f"{run.stderr.strip()}"
            )
        # Keep the member in the team for the next command.
        if name == "team role" and run.exit_code == 0:
            cli.ok("team", "role", "m@example.com", role)
        if name == "accounts disconnect" and run.exit_code == 0:
            cli.ok("accounts", "add", "sandbox", "--handle", "acme")  # reconnect for what follows
    return failures


def approval_workflow(cli: Cli, team: Team) -> None:
    """The approval workflow's transitions, the team's member being an editor."""
    ed = team.member
    cli.ok("team", "settings", "--approval-required")
    held = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:acme",
        "--text",
        "needs ok",
        "--at",
        "+2h",
        "--json",
        env=ed,
    ).json()
    assert held["status"] == "pending_approval"
    assert all(d["status"] == "pending" for d in held["destinations"])
    inbox = [
        p["id"] for p in cli.ok("posts", "list", "--status", "pending_approval", "--json").json()
    ]
    assert inbox == [held["id"]]
    assert cli("posts", "publish", held["id"], env=ed).exit_code == 4

    rejected = cli.ok("posts", "reject", held["id"], "--comment", "Fix the typo", "--json").json()
    assert rejected["status"] == "draft" and rejected["review_comment"] == "Fix the typo"
    assert cli("posts", "reject", held["id"], "--comment", "again").exit_code == 5

    cli.ok("posts", "edit", held["id"], "--text", "needs ok, fixed", env=ed)
    assert (
        cli.ok("posts", "submit", held["id"], "--json", env=ed).json()["status"]
        == "pending_approval"
    )
    approved = cli.ok("posts", "approve", held["id"], "--comment", "Great", "--json").json()
    assert approved["status"] == "scheduled" and approved["review_comment"] == "Great"

    # Editing a scheduled post sends it back for approval.
    assert (
        cli.ok("posts", "edit", held["id"], "--text", "changed after ok", "--json", env=ed).json()[
            "status"
        ]
        == "pending_approval"
    )

    # A draft with no time: approve makes it approved; scheduling it later needs no new approval.
    draft = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "no time yet", "--json", env=ed
    ).json()
    cli.ok("posts", "submit", draft["id"], env=ed)
    assert cli.ok("posts", "approve", draft["id"], "--json").json()["status"] == "approved"
    assert (
        cli.ok("posts", "schedule", draft["id"], "+5h", "--json", env=ed).json()["status"]
        == "scheduled"
    )

    # An editor scheduling an unapproved draft gets pending_approval, never scheduled.
    other = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "sneaky", "--json", env=ed
    ).json()
    assert (
        cli.ok("posts", "schedule", other["id"], "+1h", "--json", env=ed).json()["status"]
        == "pending_approval"
    )

    actions = {e["action"] for e in cli.ok("team", "audit", "--json").json()}
    assert {
        "post.create",
        "post.edit",
        "post.submit",
        "post.approve",
        "post.reject",
        "post.schedule",
    } <= actions
    cli.ok("posts", "delete", other["id"], "--yes", env=ed)
    assert "post.delete" in {
        e["action"] for e in cli.ok("team", "audit", "--action", "post.delete", "--json").json()
    }

    cli.ok("team", "settings", "--no-approval-required")
    direct = cli.ok(
        "posts", "create", "--to", "sandbox:acme", "--text", "free", "--at", "+2h", "--json", env=ed
    ).json()
    assert direct["status"] == "scheduled"
    assert (
        cli(
            "posts",
            "submit",
            cli.ok(
                "posts", "create", "--to", "sandbox:acme", "--text", "d", "--json", env=ed
            ).json()["id"],
            env=ed,
        ).exit_code
        == 5
    )


# ---------------------------------------------------------------- printed fixes

# A fix autopostr prints: "run `autopostr …`", or "pipe {…} to `autopostr …`".
_PRINTED_FIX = re.compile(r"(?:pipe (\{[^{}]*\}) to )?`(autopostr accounts [^`]*)`")


def printed_fixes(message: str) -> list[tuple[str, dict[str, Any] | None]]:
    """The `autopostr accounts …` commands a message tells the user to run, with the JSON
    it says to pipe into each, in the order printed."""
    found: list[tuple[str, dict[str, Any] | None]] = []
    for stdin, command in _PRINTED_FIX.findall(message):
        fix = (command, json.loads(stdin) if stdin else None)
        if fix not in found:
            found.append(fix)
    return found


def run_printed_fixes(cli: Cli, message: str, secrets: dict[str, Any] | None = None) -> None:
    """Run every reconnect fix in `message` exactly as printed; where it says to pipe JSON,
    pipe that JSON with each "…" replaced by what only the user knows (`secrets`)."""
    fixes = printed_fixes(message)
    assert fixes, f"no fix to run in: {message}"
    for command, stdin in fixes:
        args = shlex.split(command)
        assert args[0] == "autopostr", command
        data = None
        if stdin is not None:
            missing = [k for k, v in stdin.items() if v == "…" and k not in (secrets or {})]
            assert not missing, f"the test does not know {missing} for `{command}`"
            data = json.dumps({k: (secrets or {})[k] if v == "…" else v for k, v in stdin.items()})
        cli.ok(*args[1:], input=data)


# ---------------------------------------------------------------- billing

# Small plans, so each limit is reached in a few steps.
BILLING_PLANS = """
[plans.free]
accounts = 2
posts_per_month = 2
ai_requests_per_month = 2
seats = 2

[plans.pro]
accounts = 5
posts_per_month = 5
stripe_price_monthly = "price_pro_monthly"
stripe_price_yearly = "price_pro_yearly"

[plans.team]
stripe_price_monthly = "price_team_monthly"
"""


def billing_config(tmp_path: Path, extra: str = "") -> Path:
    """The test's config file (AUTOPOSTR_CONFIG) with BILLING_PLANS."""
    path = tmp_path / "config.toml"
    path.write_text(BILLING_PLANS + extra)
    return path


def billing_event(
    kind: str, obj: dict[str, Any], created: int | None = None, event_id: str | None = None
) -> dict[str, Any]:
    """A Stripe event as the Events API and webhooks carry it."""
    import secrets as _secrets

    return {
        "id": event_id or "evt_" + _secrets.token_hex(10),
        "object": "event",
        "type": kind,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
    }


def own_team() -> tuple[int, str]:
    """The signed-in user's current team id and this database's billing instance."""
    from autopostr.billing.events import instance_id
    from autopostr.local_session import current_actor

    settings = load_settings()
    db = database()
    with db.session() as session:
        actor = current_actor(settings, db, session)
        assert actor.team_id is not None
        return actor.team_id, instance_id(session)


# ---------------------------------------------------------------- a simulated clock


def schedule_tick(now: Any) -> Any:
    """The daemon's schedule job at a moment of a simulated clock."""
    from autopostr.schedule.tick import run_job

    return run_job(database(), load_settings(), now=now)


def publish_at(now: Any) -> list[Any]:
    """What a daemon publishes when the simulated clock reads `now`."""
    from autopostr.publishing import publish_due

    return publish_due(database(), load_settings(), now=now, concurrency=1)
