"""Content as code: `plan DIR`, `apply DIR`, `export-dir DIR` on both engines.

A folder of Markdown files is the truth a team reviews in pull requests; plan shows
the difference with the team's posts, apply makes the posts so in one transaction,
and a second apply changes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import Cli, Team, new_post, run_once
from tests.media_samples import image

LATER = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
LATER_LOCAL = LATER.strftime("%Y-%m-%d %H:%M")


def write(root: Path, name: str, front: str, body: str = "Hello") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front.strip()}\n---\n{body}\n", encoding="utf-8")
    return path


def plan(cli: Cli, root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = cli.ok("plan", str(root), "--json", *args, env=env).json()
    return data


def actions(data: dict[str, Any]) -> dict[str, str]:
    return {item["key"]: item["action"] for item in data["items"]}


def apply(cli: Cli, root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = cli.ok("apply", str(root), "--yes", "--json", *args, env=env).json()
    return data


def posts(cli: Cli, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = cli.ok("posts", "list", "--json", env=env).json()
    return result


def audit_count(cli: Cli) -> int:
    return len(cli.ok("team", "audit", "--json").json())


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    (root / "img").mkdir(parents=True)
    image(root / "img" / "launch.png", "PNG", seed=1)
    write(
        root,
        "2027/launch.md",
        f"""
to: [sandbox:demo, sandbox:other]
at: {LATER_LOCAL}
timezone: Europe/Berlin
media: [../img/launch.png]
first_comment: Link in bio
labels: [launch, q1]
variants:
  sandbox:other: The other account's text
""",
        "We launch today.\n\n---\n\nA second part of the thread.",
    )
    write(
        root,
        "notes/idea.md",
        """
to: sandbox:demo
thread:
  - one
  - two
""",
        "",
    )
    return root


def test_apply_creates_the_posts_and_a_second_apply_changes_nothing(
    accounts: str, cli: Cli, content: Path
) -> None:
    first = plan(cli, content)
    assert actions(first) == {"2027/launch.md": "create", "notes/idea.md": "create"}
    assert first["changes"] is True
    assert cli("plan", str(content), "--exit-code").exit_code == 1
    assert posts(cli) == []  # plan writes nothing, media included
    assert cli.ok("media", "list", "--json").json() == []

    applied = apply(cli, content)
    assert len(applied["created"]) == 2
    by_text = {p["text"].split("\n")[0]: p for p in posts(cli)}
    launch = by_text["We launch today."]
    assert launch["status"] == "scheduled"
    berlin = datetime.strptime(LATER_LOCAL, "%Y-%m-%d %H:%M").replace(
        tzinfo=ZoneInfo("Europe/Berlin")
    )
    assert datetime.fromisoformat(launch["scheduled_at"]) == berlin
    assert launch["first_comment"] == "Link in bio"
    assert launch["labels"] == ["launch", "q1"]
    assert [m["filename"] for m in launch["media"]] == ["launch.png"]
    variants = {d["account"]: d["text"] for d in launch["destinations"]}
    assert variants == {"sandbox:demo": None, "sandbox:other": "The other account's text"}
    idea = by_text["one"]
    assert idea["status"] == "draft" and idea["text"] == "one\n\n---\n\ntwo"

    entries = audit_count(cli)
    updated = {p["id"]: p["updated_at"] for p in posts(cli)}
    again = plan(cli, content)
    assert set(actions(again).values()) == {"unchanged"} and again["changes"] is False
    assert cli("plan", str(content), "--exit-code").exit_code == 0
    second = apply(cli, content)
    assert second["created"] == second["changed"] == second["deleted"] == []
    assert {p["id"]: p["updated_at"] for p in posts(cli)} == updated
    assert audit_count(cli) == entries + 1  # the apply itself, nothing else


def test_media_is_uploaded_once_for_many_files(accounts: str, cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "content"
    root.mkdir()
    image(root / "shared.png", "PNG", seed=7)
    for n in range(3):
        write(root, f"p{n}.md", f"to: sandbox:demo\nat: {LATER_LOCAL}\nmedia: shared.png", f"p{n}")
    apply(cli, root)
    media = cli.ok("media", "list", "--json").json()
    assert len(media) == 1
    assert {p["media"][0]["id"] for p in posts(cli)} == {media[0]["id"]}


def test_a_change_is_shown_field_by_field_and_applied(
    accounts: str, cli: Cli, content: Path
) -> None:
    apply(cli, content)
    later = (LATER + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    write(
        content,
        "2027/launch.md",
        f"to: [sandbox:demo]\nat: {later}\ntimezone: Europe/Berlin\nlabels: [launch]",
        "We launch tomorrow.",
    )
    data = plan(cli, content)
    [item] = [i for i in data["items"] if i["action"] == "change"]
    fields = {f["field"]: (f["before"], f["after"]) for f in item["fields"]}
    assert fields["text"] == (
        "We launch today.\n\n---\n\nA second part of the thread.",
        "We launch tomorrow.",
    )
    assert set(fields) == {"text", "at", "to", "first_comment", "variants", "media", "labels"}
    assert fields["to"] == ("sandbox:demo, sandbox:other", "sandbox:demo")
    human = cli.ok("plan", str(content)).stdout
    assert "~ 2027/launch.md" in human and "text:" in human

    applied = apply(cli, content)
    assert applied["changed"] == [item["post"]]
    post = cli.ok("posts", "show", item["post"], "--json").json()
    assert post["text"] == "We launch tomorrow."
    assert [d["account"] for d in post["destinations"]] == ["sandbox:demo"]
    assert post["media"] == [] and post["first_comment"] is None
    assert post["labels"] == ["launch"]
    assert plan(cli, content)["changes"] is False


def test_a_file_renamed_with_an_id_keeps_its_post(accounts: str, cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "content"
    write(root, "a.md", f"id: launch\nto: sandbox:demo\nat: {LATER_LOCAL}", "Launch")
    write(root, "b.md", f"to: sandbox:demo, sandbox:other\nat: {LATER_LOCAL}", "Other")
    created = apply(cli, root)["created"]
    (root / "a.md").rename(root / "renamed.md")
    (root / "b.md").rename(root / "b2.md")
    data = plan(cli, root)
    assert actions(data) == {"launch": "unchanged", "b2.md": "create", "b.md": "keep"}
    assert [i["post"] for i in data["items"] if i["key"] == "launch"] == [created[0]]
    [hint] = [i["note"] for i in data["items"] if i["key"] == "b2.md"]
    assert "same post as b.md" in hint and "id: b.md" in hint
    pruned = plan(cli, root, "--prune")
    assert actions(pruned)["b.md"] == "delete"


def test_deletes_only_with_prune(accounts: str, cli: Cli, content: Path) -> None:
    apply(cli, content)
    (content / "notes" / "idea.md").unlink()
    kept = apply(cli, content)
    assert kept["deleted"] == [] and len(posts(cli)) == 2
    assert actions(kept)["notes/idea.md"] == "keep"
    assert "--prune deletes it" in cli.ok("plan", str(content)).stdout
    pruned = apply(cli, content, "--prune")
    assert len(pruned["deleted"]) == 1 and len(posts(cli)) == 1
    assert plan(cli, content, "--prune")["changes"] is False


def test_published_posts_are_never_changed_and_republish_makes_a_new_post(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    write(root, "out.md", f"to: sandbox:demo\nat: {LATER_LOCAL}", "Going out")
    [post_id] = apply(cli, root)["created"]
    cli.ok("posts", "publish", post_id)
    run_once(cli)
    assert cli.ok("posts", "show", post_id, "--json").json()["status"] == "published"
    assert plan(cli, root)["changes"] is False  # same text: nothing to say

    write(root, "out.md", f"to: sandbox:demo\nat: {LATER_LOCAL}", "Going out, edited")
    data = plan(cli, root)
    [item] = data["items"]
    assert item["action"] == "published" and "not changed" in item["note"]
    assert data["changes"] is False
    apply(cli, root)
    assert cli.ok("posts", "show", post_id, "--json").json()["text"] == "Going out"

    (root / "out.md").unlink()
    pruned = plan(cli, root, "--prune")
    assert actions(pruned) == {"out.md": "forget"}
    write(
        root, "out.md", f"to: sandbox:demo\nat: {LATER_LOCAL}\nrepublish: true", "Going out again"
    )
    assert actions(plan(cli, root)) == {"out.md": "republish"}
    [new_id] = apply(cli, root)["created"]
    assert new_id != post_id
    assert cli.ok("posts", "show", post_id, "--json").json()["text"] == "Going out"
    assert cli.ok("posts", "show", new_id, "--json").json()["status"] == "scheduled"
    assert plan(cli, root)["changes"] is False


def test_every_invalid_file_is_reported_with_its_line_and_nothing_is_applied(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    write(root, "good.md", f"to: sandbox:demo\nat: {LATER_LOCAL}", "Fine")
    write(root, "account.md", f"at: {LATER_LOCAL}\nto: sandbox:nobody", "Hi")
    write(root, "time.md", "to: sandbox:demo\nat: yesterday-ish", "Hi")
    write(root, "long.md", f"to: sandbox:demo\nat: {LATER_LOCAL}", "x" * 300)
    write(root, "yaml.md", "to: [sandbox:demo\nat: 1", "Hi")
    write(root, "past.md", "to: sandbox:demo\nat: 2020-01-01 09:00", "Hi")
    write(root, "typo.md", f"to: sandbox:demo\nwhen: {LATER_LOCAL}", "Hi")
    write(root, "queue.md", "to: sandbox:demo\nqueue: true", "Hi")
    write(root, "relative.md", "to: sandbox:demo\nat: +2h", "Hi")
    (root / "nofront.md").write_text("just text\n")
    for command in ("plan", "apply"):
        run = cli(command, str(root), "--yes") if command == "apply" else cli(command, str(root))
        assert run.exit_code == 5, run.stderr
        lines = run.stderr.splitlines()
        for where in (
            "account.md:3: to: 'sandbox:nobody' is not an account",
            "time.md:3: at:",
            "long.md:5: sandbox:demo: the text",
            "yaml.md:",
            "past.md:3: at: 2020-01-01 09:00 is in the past",
            "typo.md:3: unknown field 'when'",
            "nofront.md:1: no front matter",
            "queue.md:3: queue:",
            "relative.md:3: at: +2h would move every time",
        ):
            assert any(line.startswith(where) for line in lines), (where, run.stderr)
        assert not any(line.startswith("good.md") for line in lines)
        assert lines[-1].startswith("Error: ") and "9 problems" in lines[-1]
    assert posts(cli) == []
    json_run = cli("plan", str(root), "--json")
    assert json_run.exit_code == 5
    assert json.loads(json_run.stdout)["errors"][0].keys() == {"file", "line", "message"}


def test_a_post_edited_by_hand_is_a_conflict_until_forced(
    accounts: str, cli: Cli, content: Path
) -> None:
    created = apply(cli, content)["created"]
    cli.ok("posts", "edit", created[0], "--text", "Edited in the terminal")
    data = plan(cli, content)
    [item] = [i for i in data["items"] if i["action"] == "conflict"]
    assert item["post"] == created[0] and "by hand" in item["note"]
    assert data["changes"] is True
    write(content, "new.md", f"to: sandbox:demo\nat: {LATER_LOCAL}", "Also new")
    (content / "notes" / "idea.md").unlink()
    refused = cli("apply", str(content), "--yes", "--prune")
    assert refused.exit_code == 5 and "edited by hand" in refused.stderr
    assert "--force" in refused.stderr
    assert len(posts(cli)) == 2  # nothing at all was applied: no create, no delete
    assert cli.ok("posts", "show", created[0], "--json").json()["text"] == "Edited in the terminal"
    forced = apply(cli, content, "--force", "--prune")
    assert forced["changed"] == [created[0]] and len(forced["created"]) == 1
    assert cli.ok("posts", "show", created[0], "--json").json()["text"].startswith("We launch")
    assert plan(cli, content)["changes"] is False


def test_apply_asks_in_a_terminal_only_and_refuses_without_yes(
    accounts: str, cli: Cli, content: Path
) -> None:
    run = cli("apply", str(content))  # CliRunner's stdin is not a terminal
    assert run.exit_code == 2 and "--yes" in run.stderr
    assert posts(cli) == []


def test_export_dir_round_trips_to_a_plan_without_changes(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    picture = image(tmp_path / "pic.png", "PNG", seed=3)
    new_post(
        cli,
        "Scheduled by hand",
        "--at",
        "+3d",
        "--tz",
        "America/New_York",
        "--media",
        str(picture),
        "--first-comment",
        "first!",
    )
    new_post(
        cli,
        "Two accounts",
        "--at",
        "+2d",
        "--to",
        "sandbox:other",
        "--variant",
        "sandbox:other=Hi other",
    )
    new_post(cli, "A draft\n---\nthread part")
    published = new_post(cli, "Already out", "--at", "+1d")
    cli.ok("posts", "publish", published)
    run_once(cli)

    out = tmp_path / "exported"
    data = cli.ok("export-dir", str(out), "--json").json()
    assert len(data["files"]) == 3 and data["media"] == 1
    assert len(list(out.rglob("*.md"))) == 3
    result = plan(cli, out, "--prune")
    assert result["changes"] is False, result
    assert set(actions(result).values()) == {"unchanged"}
    assert apply(cli, out)["changed"] == []

    refused = cli("export-dir", str(out))
    assert refused.exit_code == 5 and "not an empty folder" in refused.stderr


@pytest.mark.slow
def test_approval_paths(initialized: str, cli: Cli, tmp_path: Path) -> None:
    team = Team(cli, tmp_path, role="editor", approval=True)
    root = tmp_path / "content"
    write(root, "a.md", f"to: sandbox:acme\nat: {LATER_LOCAL}", "From the editor")
    run = team.as_member("apply", str(root), "--yes", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["pending_approval"] == 1
    [post] = posts(cli, env=team.member)
    assert post["status"] == "pending_approval"

    denied = team.as_member("apply", str(root), "--yes", "--as-approved")
    assert denied.exit_code == 4 and "only an owner" in denied.stderr
    not_git = cli("apply", str(root), "--yes", "--as-approved")
    assert not_git.exit_code == 4 and "--approval-by git" in not_git.stderr
    # An owner's apply without --as-approved is no approval of the editor's post.
    assert plan(cli, root)["changes"] is False
    apply(cli, root)
    assert posts(cli)[0]["status"] == "pending_approval"

    cli.ok("team", "settings", "--approval-by", "git")
    assert cli.ok("team", "settings", "--json").json()["approval_by"] == "git"
    assert actions(plan(cli, root, "--as-approved")) == {"a.md": "approve"}
    sha = "0123456789abcdef0123456789abcdef01234567"
    approved = apply(cli, root, "--as-approved", env={"GITHUB_SHA": sha})
    assert approved["approved"] == [post["id"]] and approved["commit"] == sha
    assert posts(cli)[0]["status"] == "scheduled"
    entries = cli.ok("team", "audit", "--json").json()
    approval = [e for e in entries if e["action"] == "post.approve"][-1]
    assert sha in json.dumps(approval)
    code = [e for e in entries if e["action"] == "code.apply"][-1]
    assert sha in json.dumps(code) and "as_approved" in json.dumps(code)

    # An editor's change of an approved post goes back for approval, as `posts edit` does.
    write(root, "a.md", f"to: sandbox:acme\nat: {LATER_LOCAL}", "From the editor, changed")
    changed = team.as_member("apply", str(root), "--yes", "--json")
    assert changed.exit_code == 0, changed.stderr
    assert changed.json()["pending_approval"] == 1
    assert posts(cli)[0]["status"] == "pending_approval"


def test_the_example_folder_plans_and_applies(accounts: str, cli: Cli) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "content"
    first = plan(cli, example)
    assert set(actions(first).values()) == {"create"} and len(first["items"]) == 3
    apply(cli, example)
    assert plan(cli, example)["changes"] is False


@pytest.mark.slow
def test_in_a_terminal_apply_shows_the_plan_and_asks(
    accounts: str, cli: Cli, content: Path
) -> None:
    from tests.terminal import run_in_terminal

    declined = run_in_terminal("apply", str(content), answers=[("[y/N]", "n")])
    assert declined.exit_code != 0
    assert "+ 2027/launch.md: create" in declined.output
    assert "Nothing was changed" in declined.output
    assert posts(cli) == []
    accepted = run_in_terminal("apply", str(content), answers=[("[y/N]", "y")])
    assert accepted.exit_code == 0, accepted.output
    assert "Applied: 2 created" in accepted.output
    assert len(posts(cli)) == 2
    again = run_in_terminal("apply", str(content))  # nothing to do: nothing to ask
    assert again.exit_code == 0 and "No changes" in again.output
