"""CSV as spreadsheets make them: semicolons, their date forms with --date-format, zone
abbreviations, Excel's BOM, variants and zones kept by export, history skipped, and a
dry run that shows each row's time and accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Cli, one_error_line


def _file(tmp_path: Path, text: str, name: str = "sheet.csv", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return str(path)


def test_semicolon_files_from_german_excel_import(accounts: str, cli: Cli, tmp_path: Path) -> None:
    body = (
        "text;accounts;at;timezone\n"
        'Guten Morgen ☕;"sandbox:demo;sandbox:other";2030-06-30 09:00;Europe/Berlin\n'
        "Tab-free;sandbox:demo;;\n"
    )
    result = cli.ok("posts", "import", _file(tmp_path, body, encoding="utf-8-sig"), "--json")
    assert result.json()["created"] == 2
    post = cli.ok("posts", "show", "1", "--json").json()
    assert post["scheduled_at"] == "2030-06-30T07:00:00+00:00"
    assert [d["account"] for d in post["destinations"]] == ["sandbox:demo", "sandbox:other"]
    tabbed = "text\taccounts\nTabbed\tsandbox:demo\n"
    assert (
        cli.ok("posts", "import", _file(tmp_path, tabbed, "t.tsv"), "--json").json()["created"] == 1
    )


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        ("%m/%d/%Y %H:%M", "06/30/2030 09:00"),
        ("%d.%m.%Y %H:%M", "30.06.2030 09:00"),
        ("%m/%d/%Y %I:%M %p", "06/30/2030 09:00 AM"),
    ],
)
def test_spreadsheet_dates_with_an_explicit_format(
    sandbox: str, cli: Cli, tmp_path: Path, fmt: str, value: str
) -> None:
    path = _file(tmp_path, f"text,accounts,at,timezone\nHi,sandbox:demo,{value},UTC\n")
    refused = cli("posts", "import", path)
    assert refused.exit_code == 5 and "--date-format" in refused.stderr  # never guessed
    run = cli.ok("posts", "import", path, "--date-format", fmt, "--json")
    assert run.json()["created"] == 1
    post = cli.ok("posts", "show", "1", "--json").json()
    assert post["scheduled_at"] == "2030-06-30T09:00:00+00:00"
    wrong = _file(tmp_path, "text,accounts,at\nHi,sandbox:demo,2030/06/30\n", "w.csv")
    bad = cli("posts", "import", wrong, "--date-format", fmt)
    assert bad.exit_code == 5 and "does not match --date-format" in bad.stderr


def test_zone_abbreviations_warn_and_name_the_iana_zone(
    sandbox: str, cli: Cli, tmp_path: Path
) -> None:
    path = _file(tmp_path, "text,accounts,at,timezone\nHi,sandbox:demo,2030-06-30 09:00,EST\n")
    run = cli.ok("posts", "import", path, "--dry-run")
    assert "Warning: timezone: EST is an abbreviation" in run.stderr
    assert "America/New_York" in run.stderr
    unknown = _file(tmp_path, "text,accounts,at,timezone\nHi,sandbox:demo,2030-06-30 09:00,PDT\n")
    refused = cli("posts", "import", unknown)
    assert refused.exit_code == 5 and "America/Los_Angeles" in refused.stderr


def test_dry_run_shows_each_rows_time_and_accounts(accounts: str, cli: Cli, tmp_path: Path) -> None:
    body = (
        "text,accounts,at,timezone\n"
        'One,"sandbox:demo;sandbox:other",2030-06-30 09:00,Europe/Berlin\n'
        "Two,sandbox:demo,,\n"
    )
    run = cli.ok("posts", "import", _file(tmp_path, body), "--dry-run")
    lines = run.stdout.splitlines()
    assert lines == [
        "line 2: scheduled 2030-06-30 09:00 +02:00 (Europe/Berlin) → sandbox:demo, sandbox:other",
        "line 3: draft draft → sandbox:demo",
    ]
    assert "would create 2 post(s)" in run.stderr
    assert cli.ok("posts", "list", "--json").json() == []


def test_export_keeps_variants_zones_and_excel_reads_it(
    accounts: str, cli: Cli, tmp_path: Path
) -> None:
    cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--to",
        "sandbox:other",
        "--text",
        "Coffee ☕ — at nine",
        "--variant",
        "sandbox:other=Kaffee ☕ — um neun",
        "--at",
        "2030-06-30 09:00",
        "--tz",
        "America/New_York",
    )
    out = tmp_path / "posts.csv"
    cli.ok("posts", "export", "--excel", "-o", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    text = raw.decode("utf-8-sig")
    assert "☕ —" in text and "2030-06-30T09:00:00-04:00,America/New_York" in text
    exported = json.loads(cli.ok("posts", "export", "--format", "json").stdout)
    assert json.loads(exported[0]["variants"]) == {"sandbox:other": "Kaffee ☕ — um neun"}
    # Restored from the export, the post has its variant and its zone back.
    cli.ok("posts", "delete", "1", "--yes")
    again = cli.ok("posts", "import", str(out), "--include-deleted", "--json").json()
    assert again["created"] == 1
    post = cli.ok("posts", "show", again["post_ids"][0], "--json").json()
    other = next(d for d in post["destinations"] if d["account"] == "sandbox:other")
    assert other["text"] == "Kaffee ☕ — um neun"
    assert post["timezone"] == "America/New_York"


def test_exported_history_is_skipped_with_a_reason(sandbox: str, cli: Cli, tmp_path: Path) -> None:
    cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "Went out")
    cli.ok("posts", "publish", "1")
    out = tmp_path / "history.csv"
    cli.ok("posts", "export", "--status", "published", "-o", str(out))
    run = cli.ok("posts", "import", str(out), "--json")
    assert run.json()["created"] == 0 and run.json()["skipped"] == 1
    human = cli.ok("posts", "import", str(out))
    assert "already went out" in human.stderr


def test_export_streams_and_refuses_unknown_states(sandbox: str, cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    run = cli("posts", "export", "--status", "bogus", "-o", str(folder / "x.csv"))
    assert run.exit_code == 5
    assert "is not one of" in one_error_line(run.stderr)
    assert list(folder.iterdir()) == []  # no file, and no half-written one either
    cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "Hi")
    cli.ok("posts", "export", "-o", str(folder / "x.csv"))
    assert [p.name for p in folder.iterdir()] == ["x.csv"]
