"""Small messages that say what is wrong: a missing handle, nothing pasted, hook failures
as warnings, one alt text per file, and AUTOPOSTR_MAX_LATENESS failing what is too late."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.helpers import Cli, make_due, new_post, one_error_line
from tests.media_samples import image


def test_a_missing_handle_is_called_missing(initialized: str, cli: Cli) -> None:
    run = cli("accounts", "add", "sandbox")
    assert run.exit_code == 5
    assert "no handle was given" in one_error_line(run.stderr)
    webhook = cli("accounts", "add", "webhook", input="")
    assert webhook.exit_code == 5
    line = one_error_line(webhook.stderr)
    assert "needs credentials" in line and "is not a handle" not in line


def test_nothing_pasted_is_said_so(initialized: str, cli: Cli) -> None:
    run = cli(
        "accounts",
        "connect",
        "x",
        "--no-browser",
        input="",
        env={"AUTOPOSTR_X_CLIENT_ID": "client"},
    )
    assert run.exit_code == 5
    assert "nothing was pasted" in run.stderr and "state does not match" not in run.stderr


def test_a_failing_hook_is_a_warning_line(sandbox: str, cli: Cli) -> None:
    post = new_post(cli, "hooked")
    run = cli("posts", "publish", post, env={"AUTOPOSTR_ON_EVENT": "sh -c 'exit 3'"})
    assert run.exit_code == 0, run
    hook_lines = [line for line in run.stderr.splitlines() if "event hook" in line]
    assert hook_lines and all(line.startswith("Warning: event hook") for line in hook_lines)


def test_one_alt_text_per_file(sandbox: str, cli: Cli, tmp_path: Path) -> None:
    first = image(tmp_path / "a.png", "png", (40, 30))
    second = image(tmp_path / "b.png", "png", (30, 40), seed=1)
    refused = cli("media", "upload", str(first), str(second), "--alt", "One for both")
    assert refused.exit_code == 5
    assert "one per file" in one_error_line(refused.stderr)
    assert cli.ok("media", "list", "--json").json() == []
    rows = cli.ok(
        "media", "upload", str(first), str(second), "--alt", "Wide", "--alt", "Tall", "--json"
    ).json()
    assert [r["alt_text"] for r in rows] == ["Wide", "Tall"]


def test_max_lateness_fails_what_is_too_late(sandbox: str, cli: Cli) -> None:
    late = new_post(cli, "Late", "--at", "+1h")
    on_time = new_post(cli, "On time", "--at", "+1h")
    make_due(int(late), ago=timedelta(hours=3))
    make_due(int(on_time), ago=timedelta(minutes=10))
    env = {"AUTOPOSTR_MAX_LATENESS": "1h"}
    run = cli("daemon", "run", "--once", "--json", env=env)
    assert run.exit_code == 6
    outcomes = {o["post"]: o for o in run.json()}
    assert outcomes[on_time]["status"] == "published"
    assert outcomes[late]["status"] == "failed"
    assert outcomes[late]["error"].startswith("too late: it was due 3h")
    assert "AUTOPOSTR_MAX_LATENESS (1h)" in outcomes[late]["error"]
    shown = cli.ok("posts", "show", on_time).stdout
    assert "10m" in shown  # how late it went out
    data = cli.ok("posts", "show", on_time, "--json").json()
    assert 590 <= data["destinations"][0]["late_seconds"] <= 900
    # Asked for by hand, it goes out.
    cli.ok("posts", "retry", late, env=env)
    assert cli.ok("posts", "show", late, "--json").json()["status"] == "published"
    logged = cli.ok("logs", "--post", late).stdout
    assert "too late" in logged
    # Without the setting nothing is too late.
    other = new_post(cli, "Very late", "--at", "+1h")
    make_due(int(other), ago=timedelta(days=2))
    assert cli.ok("daemon", "run", "--once", "--json").json()[0]["status"] == "published"
