"""CSV import/export: whole-file validation, atomicity, idempotent re-import, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CSV_HEADER, Cli, write_csv

GOOD = (
    "Hello from CSV,sandbox:demo,2030-05-01 09:00,Europe/Berlin,,,scheduled,ext-1\n"
    '"Multi-line\n---\nthread",sandbox:demo;sandbox:other,2030-05-02T10:00Z,,,Nice comment,,\n'
    "A draft,@sandbox:other,,,,,draft,\n"
)


def test_import_creates_every_row(accounts: str, cli: Cli, tmp_path: Path) -> None:
    result = cli.ok("posts", "import", str(write_csv(tmp_path, GOOD)), "--json").json()
    assert result["created"] == 3 and result["skipped"] == 0 and len(result["post_ids"]) == 3
    posts = {p["text"]: p for p in cli.ok("posts", "list", "--json").json()}
    assert posts["Hello from CSV"]["scheduled_at"] == "2030-05-01T07:00:00+00:00"
    assert posts["Hello from CSV"]["status"] == "scheduled"
    thread = posts["Multi-line\n---\nthread"]
    assert {d["account"] for d in thread["destinations"]} == {"sandbox:demo", "sandbox:other"}
    assert thread["first_comment"] == "Nice comment" and thread["status"] == "scheduled"
    assert posts["A draft"]["status"] == "draft" and posts["A draft"]["scheduled_at"] is None


def test_reimport_is_idempotent(accounts: str, cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD)
    cli.ok("posts", "import", str(path))
    again = cli.ok("posts", "import", str(path), "--json").json()
    assert again["created"] == 0 and again["skipped"] == 3
    assert len(cli.ok("posts", "list", "--json").json()) == 3


def test_dry_run_writes_nothing(accounts: str, cli: Cli, tmp_path: Path) -> None:
    result = cli.ok("posts", "import", str(write_csv(tmp_path, GOOD)), "--dry-run", "--json").json()
    assert result["created"] == 3 and result["dry_run"] is True
    assert cli.ok("posts", "list", "--json").json() == []


def test_a_bad_row_in_the_middle_imports_nothing_and_every_bad_row_is_named(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    body = (
        "fine one,sandbox:demo,2030-05-01 09:00,UTC,,,,\n"
        "unknown account,sandbox:nobody,,,,,,\n" + ("x" * 281) + ",sandbox:demo,,,,,,\n"
        "past,sandbox:demo,2001-01-01 09:00,UTC,,,,\n"
        "gap,sandbox:demo,2030-03-31 02:30,Europe/Berlin,,,,\n"
        "bad zone,sandbox:demo,2030-03-31 02:30,Mars/Base,,,,\n"
        "bad status,sandbox:demo,,,,,bogus,\n"
        "fine two,sandbox:demo,,,,,,\n"
    )
    run = cli("posts", "import", str(write_csv(tmp_path, body)))
    assert run.exit_code == 5
    for line, needle in [
        (3, "'sandbox:nobody' is not an account"),
        (4, "281 characters"),
        (5, "in the past"),
        (6, "does not exist in Europe/Berlin"),
        (7, "not a time zone"),
        (8, "not draft or scheduled"),
    ]:
        assert f"line {line}: " in run.stderr and needle in run.stderr, (line, needle, run.stderr)
    assert "line 2:" not in run.stderr and "line 9:" not in run.stderr
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: posts.csv: 6 bad rows, nothing was imported")
    )
    assert cli.ok("posts", "list", "--json").json() == []


def test_rejected_import_in_json_lists_errors(accounts: str, cli: Cli, tmp_path: Path) -> None:
    run = cli("posts", "import", str(write_csv(tmp_path, "x,sandbox:nobody,,,,,,\n")), "--json")
    assert run.exit_code == 5
    assert run.json() == {
        "created": 0,
        "skipped": 0,
        "errors": [
            {"line": 2, "error": "accounts: 'sandbox:nobody' is not an account of this team"}
        ],
    }


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "the file is empty"),
        (b"text\nhello\n", "missing required column(s) accounts"),
        (b"text,accounts,colour\nhi,sandbox:demo,red\n", "unknown column(s) 'colour'"),
        (b"text,accounts\nok,sandbox:demo\n\xff\xfe bad,sandbox:demo\n", "line 3 is not UTF-8"),
        (b"text,accounts\nok,sandbox:demo,extra\n", "line 2: 3 fields"),
    ],
)
def test_malformed_files(
    accounts: str, cli: Cli, tmp_path: Path, content: bytes, needle: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    run = cli("posts", "import", str(path))
    assert run.exit_code == 5 and needle in run.stderr, run.stderr
    assert cli.ok("posts", "list", "--json").json() == []


def test_duplicate_external_id_in_one_file(accounts: str, cli: Cli, tmp_path: Path) -> None:
    body = "a,sandbox:demo,,,,,,same\nb,sandbox:demo,,,,,,same\n"
    run = cli("posts", "import", str(write_csv(tmp_path, body)))
    assert run.exit_code == 5 and "line 3: external_id: 'same' already used on line 2" in run.stderr


def test_missing_file_and_directory(accounts: str, cli: Cli, tmp_path: Path) -> None:
    assert "does not exist" in cli("posts", "import", str(tmp_path / "nope.csv")).stderr
    assert cli("posts", "import", str(tmp_path)).exit_code == 5


def test_import_from_stdin(accounts: str, cli: Cli) -> None:
    result = cli.ok(
        "posts", "import", "-", "--json", input=CSV_HEADER + "piped,sandbox:demo,,,,,,\n"
    ).json()
    assert result["created"] == 1


def test_rows_with_the_same_content_become_one_post(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    body = (
        "same,sandbox:demo,2030-01-01 10:00,UTC,,,,\nsame,sandbox:demo,2030-01-01 10:00,UTC,,,,\n"
    )
    result = cli.ok("posts", "import", str(write_csv(tmp_path, body)), "--json").json()
    assert result["created"] == 1 and result["skipped"] == 1


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_round_trips_through_import(
    accounts: str, cli: Cli, tmp_path: Path, fmt: str
) -> None:
    cli.ok("posts", "import", str(write_csv(tmp_path, GOOD)))
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Made by hand, with a comma",
        "--at",
        "2030-06-01T08:00+02:00",
        "--tz",
        "Europe/Paris",
    )
    exported = tmp_path / f"export.{fmt}"
    cli.ok("posts", "export", "--format", fmt, "-o", str(exported))
    before = cli.ok("posts", "list", "--json").json()
    again = cli.ok("posts", "import", str(exported), "--json").json()
    assert again["created"] == 0 and again["skipped"] == 4

    cli.ok("posts", "delete", before[0]["id"], "--yes")
    kept_deleted = cli.ok("posts", "import", str(exported), "--json").json()
    assert kept_deleted["created"] == 0
    assert {row["reason"] for row in kept_deleted["skipped_rows"]} == {
        "already imported",
        "deleted since",
    }
    restored = cli.ok("posts", "import", str(exported), "--include-deleted", "--json").json()
    assert restored["created"] == 1 and restored["skipped"] == 3
    after = cli.ok("posts", "list", "--json").json()

    def shape(posts: list[dict[str, Any]]) -> list[tuple[object, ...]]:
        return sorted(
            (
                p["text"],
                p["scheduled_at"],
                p["status"],
                p["first_comment"],
                tuple(sorted(d["account"] for d in p["destinations"])),
            )
            for p in posts
        )

    assert shape(after) == shape(before)


def test_export_to_stdout_is_csv_with_the_import_header(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    cli.ok("posts", "import", str(write_csv(tmp_path, GOOD)))
    out = cli.ok("posts", "export").stdout
    assert out.startswith(CSV_HEADER.rstrip("\n") + ",variants\n")
    as_json = json.loads(cli.ok("posts", "export", "--format", "json").stdout)
    assert {row["external_id"] for row in as_json} == {"ext-1", ""}
    assert cli("posts", "export", "--format", "xml").exit_code == 5


def test_media_column_takes_paths_next_to_the_csv(accounts: str, cli: Cli, tmp_path: Path) -> None:
    from tests.media_samples import image

    image(tmp_path / "pic.png", "PNG")
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    dry = cli.ok(
        "posts",
        "import",
        str(write_csv(tmp_path, "with pic,sandbox:demo,,,pic.png,,,\n")),
        "--dry-run",
        "--json",
    )
    assert dry.json()["created"] == 1
    assert cli.ok("media", "list", "--json").json() == []  # a dry run keeps nothing

    bad = cli(
        "posts",
        "import",
        str(write_csv(tmp_path, "a,sandbox:demo,,,pic.png,,,\nb,sandbox:demo,,,notes.txt,,,\n")),
    )
    assert bad.exit_code == 5 and "line 3: " in bad.stderr and "notes.txt" in bad.stderr
    assert cli.ok("media", "list", "--json").json() == []  # nothing half-imported

    result = cli.ok(
        "posts",
        "import",
        str(write_csv(tmp_path, "with pic,sandbox:demo,,,pic.png,,,\n")),
        "--json",
    ).json()
    assert result["created"] == 1
    (post,) = cli.ok("posts", "list", "--json").json()
    assert [m["filename"] for m in post["media"]] == ["pic.png"]
