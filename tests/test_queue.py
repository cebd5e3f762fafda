"""Queues: weekly slots in an account's zone, posts taking the next free slot, pauses,
moving and shuffling, CSV rows with at = queue, and two processes queueing at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from autopostr.models import utcnow
from autopostr.schedule import slots as slots_mod
from tests.helpers import Cli, db_session, one_error_line, write_csv

BERLIN = ZoneInfo("Europe/Berlin")
SPEC = "mon-fri 09:00,13:00; sat 10:30"


def expected_slots(spec: str, tz: ZoneInfo, n: int) -> list[str]:
    now = utcnow()
    found = slots_mod.instants(slots_mod.parse(spec), tz, now, now + timedelta(days=60))
    return [next(found).isoformat() for _ in range(n)]


def queue(cli: Cli, text: str, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = cli.ok(
        "posts", "create", "--text", text, "--queue", *args, "--json"
    ).json()
    return data


def test_slots_are_set_and_shown_in_the_accounts_zone(sandbox: str, cli: Cli) -> None:
    data = cli.ok(
        "queue",
        "slots",
        "set",
        "sandbox:demo",
        "fri,mon-thu 13:00,09:00; sat 10:30",
        "--tz",
        "Europe/Berlin",
        "--json",
    ).json()
    assert data["slots"] == SPEC
    assert data["timezone"] == "Europe/Berlin"
    assert data["per_week"] == 11
    assert data["days"]["sat"] == ["10:30"] and data["days"]["sun"] == []
    assert cli.ok("queue", "slots", "show", "sandbox:demo", "--json").json() == data
    bad = cli("queue", "slots", "set", "sandbox:demo", "mon 9am")
    assert bad.exit_code == 5 and "not a time of day" in one_error_line(bad.stderr)


def test_queued_posts_take_the_next_free_slots_in_order(sandbox: str, cli: Cli) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", SPEC, "--tz", "Europe/Berlin")
    times = [queue(cli, f"post {i}", "--to", "sandbox:demo")["scheduled_at"] for i in range(4)]
    assert times == expected_slots(SPEC, BERLIN, 4)
    shown = cli.ok("queue", "show", "sandbox:demo", "--days", "14", "--json").json()
    assert [r["at"] for r in shown[:4]] == times
    assert [r["slot"] for r in shown[:5]] == [1, 2, 3, 4, 5]
    assert [r["text"] for r in shown[:4]] == ["post 0", "post 1", "post 2", "post 3"]
    assert shown[4]["post"] is None
    # Deleting a queued post frees its slot for the next one.
    first = cli.ok("posts", "list", "--json").json()[0]["id"]
    cli.ok("posts", "delete", first, "--yes")
    assert queue(cli, "again", "--to", "sandbox:demo")["scheduled_at"] == times[0]


def test_without_slots_queueing_says_how_to_set_them(sandbox: str, cli: Cli) -> None:
    run = cli("posts", "create", "--text", "x", "--to", "sandbox:demo", "--queue")
    assert run.exit_code == 5
    assert "queue slots set sandbox:demo" in one_error_line(run.stderr)
    assert cli.ok("posts", "list", "--json").json() == []  # nothing half-made


def test_a_common_slot_or_each_accounts_own(accounts: str, cli: Cli) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 09:00,12:00", "--tz", "UTC")
    cli.ok("queue", "slots", "set", "sandbox:other", "daily 12:00", "--tz", "UTC")
    both = ("--to", "sandbox:demo", "--to", "sandbox:other")
    common = queue(cli, "together", *both)
    assert common["scheduled_at"].endswith("T12:00:00+00:00")
    dues = {d["account"]: d for d in common["destinations"]}
    assert len(dues) == 2
    each = queue(cli, "apart", *both[:2], *both[2:], "--queue-each")
    shown = {
        (r["account"], r["post"]): r["at"]
        for r in cli.ok("queue", "show", "--days", "3", "--json").json()
        if r["post"]
    }
    mine = {a: at for (a, p), at in shown.items() if p == each["id"]}
    assert set(mine) == {"sandbox:demo", "sandbox:other"}
    assert mine["sandbox:demo"] != mine["sandbox:other"]
    assert mine["sandbox:demo"] < mine["sandbox:other"]  # the 09:00 slot was free on demo


def test_a_pause_skips_slots_and_warns_about_posts_inside(sandbox: str, cli: Cli) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 09:00", "--tz", "UTC")
    first_two = expected_slots("daily 09:00", ZoneInfo("UTC"), 3)
    inside = cli.ok(
        "posts",
        "create",
        "--text",
        "by hand",
        "--to",
        "sandbox:demo",
        "--at",
        first_two[1][:16],
        "--tz",
        "UTC",
    )
    assert "inside" not in inside.stderr
    start = datetime.fromisoformat(first_two[0]) + timedelta(minutes=1)
    end = datetime.fromisoformat(first_two[1]) + timedelta(minutes=1)
    paused = cli.ok(
        "queue",
        "pause",
        "sandbox:demo",
        "--from",
        start.isoformat(),
        "--until",
        end.isoformat(),
        "--reason",
        "launch freeze",
        "--json",
    )
    assert "scheduled inside this pause" in paused.stderr
    queued = [queue(cli, f"q{i}", "--to", "sandbox:demo")["scheduled_at"] for i in range(2)]
    assert queued == [first_two[0], first_two[2]]  # the paused day's slot is skipped
    shown = cli.ok("queue", "show", "--days", "3", "--json").json()
    assert [r["paused"] for r in shown[:3]] == [False, True, False]
    assert shown[1]["pause_reason"] == "launch freeze"
    warned = cli.ok(
        "posts",
        "create",
        "--text",
        "late",
        "--to",
        "sandbox:demo",
        "--at",
        first_two[1][:16],
        "--tz",
        "UTC",
    )
    assert "inside a pause (launch freeze" in warned.stderr
    assert len(cli.ok("queue", "pauses", "--json").json()) == 1
    cli.ok("queue", "unpause", paused.json()["id"], "--yes")
    assert cli.ok("queue", "pauses", "--json").json() == []


def test_pause_all_and_holiday_dates(accounts: str, cli: Cli) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 09:00", "--tz", "Europe/Berlin")
    tomorrow = (utcnow().astimezone(BERLIN) + timedelta(days=1)).date()
    pause = cli.ok(
        "queue",
        "pause",
        "--all",
        "--from",
        tomorrow.isoformat(),
        "--until",
        tomorrow.isoformat(),
        "--tz",
        "Europe/Berlin",
        "--json",
    ).json()
    assert pause["account"] is None
    start = datetime.fromisoformat(pause["from"]).astimezone(BERLIN)
    end = datetime.fromisoformat(pause["until"]).astimezone(BERLIN)
    assert (start.hour, start.minute, end - start >= timedelta(hours=23)) == (0, 0, True)
    for _ in range(3):
        at = datetime.fromisoformat(str(queue(cli, "q", "--to", "sandbox:demo")["scheduled_at"]))
        assert at.astimezone(BERLIN).date() != tomorrow
    assert cli("queue", "pause", "--from", "+1h", "--until", "+2h").exit_code == 2


def test_move_swaps_and_shuffle_keeps_the_slots(sandbox: str, cli: Cli) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 08:00,20:00", "--tz", "UTC")
    ids = [str(queue(cli, f"p{i}", "--to", "sandbox:demo")["id"]) for i in range(4)]
    before = cli.ok("queue", "show", "--json").json()
    cli.ok("queue", "move", ids[3], "--to-slot", "1")
    after = cli.ok("queue", "show", "--json").json()
    assert after[0]["post"] == ids[3] and after[3]["post"] == ids[0]
    post = cli.ok("posts", "show", ids[3], "--json").json()
    assert post["scheduled_at"] == before[0]["at"]
    cli.ok("queue", "shuffle", "sandbox:demo", "--yes")
    shuffled = cli.ok("queue", "show", "--json").json()
    assert sorted(r["post"] for r in shuffled[:4]) == sorted(ids)
    assert [r["at"] for r in shuffled[:4]] == [r["at"] for r in before[:4]]
    for row in shuffled[:4]:
        assert cli.ok("posts", "show", row["post"], "--json").json()["scheduled_at"] == row["at"]
    assert cli("queue", "shuffle", "sandbox:demo").exit_code == 2  # no --yes, no terminal


def test_csv_rows_with_at_queue_fill_slots_in_file_order(
    sandbox: str, cli: Cli, tmp_path: Path
) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", SPEC, "--tz", "Europe/Berlin")
    path = write_csv(tmp_path, "".join(f"row {i},sandbox:demo,queue,,,,,\n" for i in range(5)))
    cli.ok("posts", "import", str(path))
    posts = cli.ok("posts", "list", "--json").json()
    assert [p["text"] for p in posts] == [f"row {i}" for i in range(5)]
    assert [p["scheduled_at"] for p in posts] == expected_slots(SPEC, BERLIN, 5)
    assert all(p["destinations"][0]["status"] == "pending" for p in posts)
    cli.ok("posts", "import", str(path))  # the hourly cron re-import makes nothing new
    assert len(cli.ok("posts", "list", "--json").json()) == 5
    queue(cli, "after", "--to", "sandbox:demo")
    assert (
        cli.ok("posts", "list", "--json").json()[-1]["scheduled_at"]
        == expected_slots(SPEC, BERLIN, 6)[-1]
    )


def test_due_times_follow_the_slot(sandbox: str, cli: Cli) -> None:
    from sqlmodel import select

    from autopostr.models import PostDestination, QueueSlot

    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 07:15", "--tz", "America/New_York")
    post = queue(cli, "x", "--to", "sandbox:demo")
    with db_session() as session:
        dest = session.exec(select(PostDestination)).one()
        slot = session.exec(select(QueueSlot)).one()
        assert dest.due_at == slot.at
        assert str(slot.post_id) == post["id"]
        assert dest.due_at.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "07:15"


CHILD = textwrap.dedent(
    """
    import sys
    from autopostr.cli.common import settings, signed_in
    from autopostr.schedule.queueing import create_queued

    tag = sys.argv[1]
    for i in range(100):
        with signed_in() as (session, actor):
            create_queued(session, actor, settings(), text=f"{tag} {i}", to=["sandbox:demo"])
    """
)


@pytest.mark.slow
def test_two_processes_queueing_at_once_never_share_a_slot(sandbox: str, cli: Cli) -> None:
    from sqlmodel import select

    from autopostr.models import PostDestination, QueueSlot

    every_quarter = ",".join(f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45))
    cli.ok(
        "queue", "slots", "set", "sandbox:demo", f"daily {every_quarter}", "--tz", "Europe/Berlin"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, tag], stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with db_session() as session:
        slots = session.exec(select(QueueSlot)).all()
        dues = [d.due_at for d in session.exec(select(PostDestination)).all()]
    assert len(slots) == 200
    assert len({s.at for s in slots}) == 200
    assert len(set(dues)) == 200
    assert sorted(d for d in dues if d is not None) == sorted(s.at for s in slots)
    # The 200 slots are the first 200 after the first one taken: none was skipped.
    first = min(s.at for s in slots)
    wanted = list(
        slots_mod.instants(
            slots_mod.parse(f"daily {every_quarter}"),
            BERLIN,
            first.astimezone(UTC),
            first + timedelta(days=5),
        )
    )[:200]
    assert sorted(s.at for s in slots) == wanted


def test_a_queued_post_given_a_time_by_hand_frees_its_slot(sandbox: str, cli: Cli) -> None:
    cli.ok("queue", "slots", "set", "sandbox:demo", "daily 09:00", "--tz", "UTC")
    first = queue(cli, "first", "--to", "sandbox:demo")
    second = queue(cli, "second", "--to", "sandbox:demo")
    cli.ok("posts", "schedule", first["id"], "+30d")
    cli.ok("posts", "unschedule", second["id"])
    shown = [r for r in cli.ok("queue", "show", "--json").json() if r["post"]]
    assert shown == []
    again = queue(cli, "again", "--to", "sandbox:demo")
    assert again["scheduled_at"] == first["scheduled_at"]
