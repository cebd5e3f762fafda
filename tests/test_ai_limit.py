"""The per-user AI rate limit: 10 requests in any 60 seconds by default, counted in the
database so that every process shares it, on both engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import Cli, db_session

LIMIT_MESSAGE = "Error: AI limit: 10 requests a minute; try again in {} s"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(key=None) as server:
        monkeypatch.setenv("AUTOPOSTR_AI_BASE_URL", server.url)
        yield server


def rows() -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from autopostr.models import AiUsage

    with db_session() as session:
        return int(session.exec(select(func.count()).select_from(AiUsage)).one())


def test_the_eleventh_request_in_a_minute_is_refused_with_the_wait(
    initialized: str, cli: Cli, fake: FakeOpenAI
) -> None:
    for _ in range(10):
        cli.ok("ai", "ideas", "--topic", "tea", "-n", "1")
    run = cli("ai", "ideas", "--topic", "tea", "-n", "1")
    assert run.exit_code == 5
    line = run.stderr.strip()
    wait = int(line.removeprefix("Error: AI limit: 10 requests a minute; try again in ").split()[0])
    assert line == LIMIT_MESSAGE.format(wait) and 50 <= wait <= 60
    assert len(fake.completions()) == 10 and rows() == 10  # refused before it was sent

    # A request leaving the window frees a slot.
    from sqlmodel import col, select

    from autopostr.models import AiUsage

    with db_session() as session:
        oldest = session.exec(select(AiUsage).order_by(col(AiUsage.id))).first()
        assert oldest is not None
        oldest.created_at -= timedelta(seconds=61)
        session.add(oldest)
    cli.ok("ai", "ideas", "--topic", "tea", "-n", "1")


def test_the_wait_is_until_the_oldest_request_leaves_the_window(initialized: str) -> None:
    from autopostr.ai.usage import reserve
    from autopostr.config import load_settings
    from autopostr.db import Database
    from autopostr.errors import InvalidInput
    from autopostr.local_session import current_actor
    from autopostr.models import utcnow

    settings = load_settings()
    db = Database(settings)
    start = utcnow()
    with db.session() as session:
        actor = current_actor(settings, db, session)
        for second in range(3):
            reserve(session, actor, "caption", "m", 3, now=start + timedelta(seconds=second * 10))
    with db.session() as session, pytest.raises(InvalidInput) as refused:
        reserve(session, actor, "caption", "m", 3, now=start + timedelta(seconds=37))
    assert refused.value.message == "AI limit: 3 requests a minute; try again in 23 s"
    with db.session() as session:
        reserve(session, actor, "caption", "m", 3, now=start + timedelta(seconds=60.5))


def test_the_limit_is_a_setting_and_each_users_own(
    initialized: str, cli: Cli, fake: FakeOpenAI, tmp_path: Path
) -> None:
    limited = {"AUTOPOSTR_AI_REQUESTS_PER_MINUTE": "2"}
    cli.ok("ai", "ideas", "--topic", "tea", env=limited)
    cli.ok("ai", "ideas", "--topic", "tea", env=limited)
    run = cli("ai", "ideas", "--topic", "tea", env=limited)
    assert run.exit_code == 5 and "AI limit: 2 requests a minute" in run.stderr
    other = {**limited, "AUTOPOSTR_HOME": str(tmp_path / "other-home")}
    cli.ok(
        "auth",
        "register",
        "--email",
        "o@example.com",
        "--password-stdin",
        input="correct horse battery\n",
        env=other,
    )
    cli.ok("ai", "ideas", "--topic", "tea", env=other)
    bad = cli("ai", "ideas", "--topic", "tea", env={"AUTOPOSTR_AI_REQUESTS_PER_MINUTE": "lots"})
    assert (
        bad.exit_code == 5
        and "AUTOPOSTR_AI_REQUESTS_PER_MINUTE must be a whole number" in bad.stderr
    )


# Each process signs in as the same user and, at the agreed moment, fires its requests
# all at once from threads of its own.
RACER = """
import json, sys, threading, time

import openai  # loaded before the start, so both processes fire together

from autopostr.ai.assist import Ask, run
from autopostr.cli.common import settings, signed_in_database
from autopostr.errors import AutopostrError
from autopostr.models import AiFeature

start, count = float(sys.argv[1]), int(sys.argv[2])
db, actor = signed_in_database()
outcomes = []

def one():
    try:
        run(db, actor, settings(), Ask(AiFeature.IDEAS, topic="race", count=1))
        outcomes.append("ok")
    except AutopostrError as exc:
        outcomes.append(exc.message)

threads = [threading.Thread(target=one) for _ in range(count)]
while time.time() < start:
    time.sleep(0.001)
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(outcomes))
"""


@pytest.mark.slow
def test_two_processes_racing_twelve_requests_get_exactly_ten_through(
    initialized: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.latency = 0.2  # every request is still in flight when the last ones are counted
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    start = time.time() + 4
    racers = [
        subprocess.Popen(
            [sys.executable, str(script), str(start), "6"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(2)
    ]
    outcomes = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        outcomes += json.loads(out)
    refused = [o for o in outcomes if o != "ok"]
    assert outcomes.count("ok") == 10, outcomes
    assert len(refused) == 2
    assert all(o.startswith("AI limit: 10 requests a minute; try again in ") for o in refused)
    assert len(fake.completions()) == 10 and rows() == 10
