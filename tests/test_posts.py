"""Posts on the sandbox: create, validate, schedule, edit, publish, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Cli, db_session, make_due, sandbox_lines

POST_KEYS = {
    "id",
    "status",
    "text",
    "scheduled_at",
    "team",
    "author",
    "destinations",
    "media",
    "created_at",
    "updated_at",
}
DEST_KEYS = {"id", "account", "status", "text", "remote_id", "url", "error", "attempts"}


def test_create_scheduled_post_has_the_documented_json(sandbox: str, cli: Cli) -> None:
    data = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "Hello", "--at", "+1h", "--json"
    ).json()
    assert POST_KEYS <= set(data)
    assert data["status"] == "scheduled"
    assert data["text"] == "Hello"
    assert isinstance(data["id"], str) and isinstance(data["team"], str)
    assert data["scheduled_at"].endswith("+00:00")
    (dest,) = data["destinations"]
    assert DEST_KEYS <= set(dest)
    assert (
        dest["account"] == "sandbox:demo" and dest["status"] == "pending" and dest["attempts"] == 0
    )


def test_without_at_or_with_draft_it_is_a_draft(sandbox: str, cli: Cli) -> None:
    assert (
        cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "a", "--json").json()["status"]
        == "draft"
    )
    data = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "b", "--at", "+1h", "--draft", "--json"
    ).json()
    assert data["status"] == "draft"


def test_text_from_stdin_and_from_a_file(sandbox: str, cli: Cli, tmp_path: Path) -> None:
    piped = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--json", input="From a pipe\n"
    ).json()
    assert piped["text"] == "From a pipe"
    body = tmp_path / "post.md"
    body.write_text("From a file ✨\n", encoding="utf-8")
    filed = cli.ok(
        "posts", "create", "--to", "@sandbox:demo", "--text-file", str(body), "--json"
    ).json()
    assert filed["text"] == "From a file ✨"


def test_variant_text_per_destination(sandbox: str, cli: Cli) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "other")
    data = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--to",
        "sandbox:other",
        "--text",
        "Main",
        "--variant",
        "sandbox:other=Just for other",
        "--json",
    ).json()
    texts = {d["account"]: d["text"] for d in data["destinations"]}
    assert texts == {"sandbox:demo": None, "sandbox:other": "Just for other"}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--to", "sandbox:nobody", "--text", "x"], 3, "sandbox:nobody"),
        (
            ["--to", "sandbox:demo", "--text", "x" * 281],
            5,
            "sandbox:demo: the text is 281 characters, Sandbox's limit is 280",
        ),
        (["--to", "sandbox:demo", "--text", "日本" * 71], 5, "284 characters"),
        (["--to", "sandbox:demo", "--text", "x", "--at", "2020-01-01T09:00"], 5, "in the past"),
        (["--to", "sandbox:demo", "--text", "x", "--at", "next tuesday"], 5, "is not a time"),
        (
            [
                "--to",
                "sandbox:demo",
                "--text",
                "x",
                "--at",
                "2030-03-31 02:30",
                "--tz",
                "Europe/Berlin",
            ],
            5,
            "does not exist in Europe/Berlin",
        ),
        (
            [
                "--to",
                "sandbox:demo",
                "--text",
                "x",
                "--at",
                "2030-10-27 02:30",
                "--tz",
                "Europe/Berlin",
            ],
            5,
            "happens twice",
        ),
        (
            ["--to", "sandbox:demo", "--text", "x", "--tz", "Mars/Olympus", "--at", "+1h"],
            5,
            "not a time zone",
        ),
        (["--to", "sandbox:demo", "--text", "x", "--variant", "sandbox:zzz=hi"], 3, "sandbox:zzz"),
        (["--to", "sandbox:demo", "--text", "x", "--variant", "nonsense"], 5, "ACCOUNT=TEXT"),
        (["--to", "sandbox:demo", "--text", "   "], 5, "the text is empty"),
        (["--text", "x"], 5, "--to"),
        (
            ["--to", "sandbox:demo", "--text", "ok\n---\n" + "y" * 300],
            5,
            "part 2 of the thread is 300 characters",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    sandbox: str, cli: Cli, args: list[str], code: int, needle: str
) -> None:
    run = cli("posts", "create", *args)
    assert run.exit_code == code, run.stderr
    assert needle in run.stderr
    assert run.stderr.startswith("Error: ") and len(run.stderr.strip().splitlines()) == 1
    assert cli.ok("posts", "list", "--json").json() == []


def test_dst_errors_name_both_readings(sandbox: str, cli: Cli) -> None:
    gap = cli(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "x",
        "--at",
        "2030-03-31 02:30",
        "--tz",
        "Europe/Berlin",
    )
    assert "2030-03-31T01:30+01:00" in gap.stderr and "2030-03-31T03:30+02:00" in gap.stderr
    overlap = cli(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "x",
        "--at",
        "2030-10-27 02:30",
        "--tz",
        "Europe/Berlin",
    )
    assert "2030-10-27T02:30+02:00" in overlap.stderr and "2030-10-27T02:30+01:00" in overlap.stderr
    chosen = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "x",
        "--at",
        "2030-10-27T02:30+01:00",
        "--json",
    ).json()
    assert chosen["scheduled_at"] == "2030-10-27T01:30:00+00:00"


def test_local_times_are_read_in_the_zone_and_stored_in_utc(sandbox: str, cli: Cli) -> None:
    data = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "x",
        "--at",
        "2030-12-01 09:00",
        "--tz",
        "America/New_York",
        "--json",
    ).json()
    assert data["scheduled_at"] == "2030-12-01T14:00:00+00:00"
    configured = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "y",
        "--at",
        "2030-07-01T09:00",
        "--json",
        env={"AUTOPOSTR_TIMEZONE": "Asia/Tokyo"},
    ).json()
    assert configured["scheduled_at"] == "2030-07-01T00:00:00+00:00"


def test_threads_within_limits_are_accepted(sandbox: str, cli: Cli) -> None:
    text = "First part\n---\nSecond part\n---\nThird"
    data = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", text, "--json").json()
    assert data["text"] == text


def test_list_filters(sandbox: str, cli: Cli) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "other")
    a = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "A",
        "--at",
        "2030-01-01T10:00Z",
        "--json",
    ).json()
    b = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:other",
        "--text",
        "B",
        "--at",
        "2030-01-03T10:00Z",
        "--json",
    ).json()
    c = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "C", "--json").json()
    ids = lambda *args: [p["id"] for p in cli.ok("posts", "list", "--json", *args).json()]  # noqa: E731
    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids("--status", "draft") == [c["id"]]
    assert ids("--status", "scheduled") == [a["id"], b["id"]]
    assert ids("--account", "sandbox:other") == [b["id"]]
    assert ids("--from", "2030-01-02T00:00Z") == [b["id"]]
    assert ids("--to", "2030-01-02T00:00Z") == [a["id"]]
    assert ids("--limit", "1") == [a["id"]]
    assert cli("posts", "list", "--status", "bogus").exit_code == 5
    assert cli("posts", "list", "--account", "sandbox:nope").exit_code == 3


def test_show_edit_and_revalidation(sandbox: str, cli: Cli) -> None:
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "Typo", "--at", "+2h", "--json"
    ).json()
    edited = cli.ok("posts", "edit", post["id"], "--text", "Fixed", "--json").json()
    assert edited["text"] == "Fixed" and edited["status"] == "scheduled"
    too_long = cli("posts", "edit", post["id"], "--text", "z" * 300)
    assert too_long.exit_code == 5 and "sandbox:demo" in too_long.stderr
    assert cli.ok("posts", "show", post["id"], "--json").json()["text"] == "Fixed"
    assert cli("posts", "show", "9999").exit_code == 3


def test_schedule_unschedule_and_delete(sandbox: str, cli: Cli) -> None:
    post = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "x", "--json").json()
    scheduled = cli.ok("posts", "schedule", post["id"], "+3h", "--json").json()
    assert scheduled["status"] == "scheduled"
    assert cli("posts", "schedule", post["id"], "2001-01-01T00:00Z").exit_code == 5
    assert cli.ok("posts", "unschedule", post["id"], "--json").json()["status"] == "draft"
    assert cli("posts", "unschedule", post["id"]).exit_code == 5
    cli.ok("posts", "delete", post["id"], "--yes")
    assert cli("posts", "show", post["id"]).exit_code == 3
    assert cli("posts", "delete", post["id"], "--yes").exit_code == 3


def test_publish_now_goes_out_once(sandbox: str, cli: Cli, isolated_env: Path) -> None:
    post = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "Now!", "--json").json()
    data = cli.ok("posts", "publish", post["id"], "--json").json()
    assert data["status"] == "published"
    (dest,) = data["destinations"]
    assert (
        dest["status"] == "published"
        and dest["remote_id"]
        and dest["url"]
        and dest["attempts"] == 1
    )
    lines = sandbox_lines(isolated_env)
    assert len(lines) == 1
    assert lines[0]["text"] == "Now!" and str(lines[0]["post_id"]) == post["id"]
    again = cli("posts", "publish", post["id"])
    assert again.exit_code == 5 and "published" in again.stderr
    assert len(sandbox_lines(isolated_env)) == 1


def test_daemon_once_publishes_what_is_due_and_nothing_twice(
    sandbox: str, cli: Cli, isolated_env: Path
) -> None:
    due = [
        cli.ok(
            "posts", "create", "--to", "sandbox:demo", "--text", f"due {i}", "--at", "+1h", "--json"
        ).json()
        for i in range(3)
    ]
    later = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "later", "--at", "+1d", "--json"
    ).json()
    draft = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "draft", "--json").json()
    for post in due:
        make_due(int(post["id"]))
    first = cli.ok("daemon", "run", "--once", "--json").json()
    assert sorted(o["post"] for o in first) == sorted(p["id"] for p in due)
    assert all(o["status"] == "published" for o in first)
    assert cli.ok("daemon", "run", "--once", "--json").json() == []
    statuses = {p["id"]: p["status"] for p in cli.ok("posts", "list", "--json").json()}
    assert statuses == {
        **{p["id"]: "published" for p in due},
        later["id"]: "scheduled",
        draft["id"]: "draft",
    }
    assert sorted(line["text"] for line in sandbox_lines(isolated_env)) == [
        "due 0",
        "due 1",
        "due 2",
    ]


def test_transient_failures_retry_then_fail(sandbox: str, cli: Cli) -> None:
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "flaky", "--at", "+1h", "--json"
    ).json()
    make_due(int(post["id"]))
    env = {"AUTOPOSTR_SANDBOX_FAIL_RATE": "1"}
    run = cli("daemon", "run", "--once", "--json", env=env)
    assert run.exit_code == 0
    (outcome,) = run.json()
    assert outcome["status"] == "retrying" and outcome["next_attempt_at"] and outcome["error"]
    shown = cli.ok("posts", "show", post["id"], "--json").json()
    assert shown["status"] == "publishing" and shown["destinations"][0]["attempts"] == 1
    # Not due again until its next attempt time.
    assert cli.ok("daemon", "run", "--once", "--json", env=env).json() == []
    with db_session() as session:
        from sqlmodel import select

        from autopostr.models import PostDestination, utcnow

        dest = session.exec(select(PostDestination)).one()
        dest.next_attempt_at = utcnow()
        session.add(dest)
    final = cli("daemon", "run", "--once", "--json", env={**env, "AUTOPOSTR_MAX_ATTEMPTS": "2"})
    assert final.exit_code == 6
    assert (
        final.json()[0]["status"] == "failed"
        and "gave up after 2 attempts" in final.json()[0]["error"]
    )
    assert cli.ok("posts", "show", post["id"], "--json").json()["status"] == "failed"


def test_partially_published_when_one_account_is_gone(
    sandbox: str, cli: Cli, isolated_env: Path
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "gone")
    post = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--to",
        "sandbox:gone",
        "--text",
        "both",
        "--at",
        "+1h",
        "--json",
    ).json()
    cli.ok("accounts", "disconnect", "--yes", "sandbox:gone")
    make_due(int(post["id"]))
    run = cli("daemon", "run", "--once", "--json")
    assert run.exit_code == 6
    shown = cli.ok("posts", "show", post["id"], "--json").json()
    assert shown["status"] == "partially_published"
    by_account = {d["account"]: d for d in shown["destinations"]}
    assert by_account["sandbox:demo"]["status"] == "published"
    assert by_account["sandbox:gone"]["status"] == "failed"
    assert "autopostr accounts add sandbox --handle gone" in by_account["sandbox:gone"]["error"]
    retry = cli("posts", "retry", post["id"])
    assert retry.exit_code == 6  # still disconnected
    assert len(sandbox_lines(isolated_env, "demo")) == 1


def test_retry_resends_a_failed_destination(sandbox: str, cli: Cli, isolated_env: Path) -> None:
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "again", "--at", "+1h", "--json"
    ).json()
    make_due(int(post["id"]))
    cli(
        "daemon",
        "run",
        "--once",
        env={"AUTOPOSTR_SANDBOX_FAIL_RATE": "1", "AUTOPOSTR_MAX_ATTEMPTS": "1"},
    )
    assert cli.ok("posts", "show", post["id"], "--json").json()["status"] == "failed"
    data = cli.ok("posts", "retry", post["id"], "--json").json()
    assert data["status"] == "published"
    assert len(sandbox_lines(isolated_env)) == 1
    assert cli("posts", "retry", post["id"]).exit_code == 5
