"""Operators' logs: JSON lines with context, one redaction filter on every handler, a
rotating file, and a real daemon speaking JSON."""

from __future__ import annotations

import io
import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autopostr import logsetup
from autopostr.config import load_settings
from tests.helpers import Cli, Daemons, new_post, wait_until

SECRET = "xsecret-Zq8d7W2kLm4Nv9Rt"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    yield out
    logsetup.reset()


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_lines_carry_level_logger_message_and_context(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_LOG_FORMAT", "json")
    assert logsetup.configure(load_settings(), stream=stream) == "json"
    logsetup.bind(daemon="host:1:abc")
    log = logging.getLogger("autopostr.test")
    with logsetup.context(team=1, post=7, destination=9, platform="sandbox", attempt=2):
        log.info("published %s", "it", extra={"account": "sandbox:@demo", "duration_ms": 12.5})
    log.warning("outside")
    first, second = lines(stream.getvalue())
    assert first["level"] == "info" and first["logger"] == "autopostr.test"
    assert first["message"] == "published it"
    assert first["ts"].endswith("+00:00")
    assert {k: first[k] for k in logsetup.CONTEXT_KEYS} == {
        "daemon": "host:1:abc",
        "team": 1,
        "post": 7,
        "destination": 9,
        "account": "sandbox:@demo",
        "platform": "sandbox",
        "attempt": 2,
        "duration_ms": 12.5,
    }
    assert second["daemon"] == "host:1:abc" and "post" not in second  # the context ended


def test_a_traceback_is_one_json_field(stream: io.StringIO) -> None:
    logsetup.configure(load_settings(), fmt="json", stream=stream)
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("autopostr.test").exception("it failed")
    (line,) = lines(stream.getvalue())
    assert "ValueError: broken" in line["exc"]


def test_text_stays_the_default_with_context_at_the_end(stream: io.StringIO) -> None:
    assert logsetup.configure(load_settings(), stream=stream) == "text"
    with logsetup.context(post=3):
        logging.getLogger("autopostr.test").info("hello")
    assert stream.getvalue().rstrip().endswith("INFO autopostr.test: hello [post=3]")


def test_an_unknown_format_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from autopostr.errors import ConfigError

    monkeypatch.setenv("AUTOPOSTR_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="AUTOPOSTR_LOG_FORMAT"):
        logsetup.configure(load_settings())


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_logged_on_purpose_are_redacted_in_every_handler(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str
) -> None:
    log_file = tmp_path / "logs" / "autopostr.log"
    monkeypatch.setenv("AUTOPOSTR_LOG_FILE", str(log_file))
    monkeypatch.setenv("AUTOPOSTR_X_CLIENT_SECRET", SECRET)
    logsetup.configure(load_settings(), fmt=fmt, stream=stream)
    log = logging.getLogger("autopostr.test")
    log.warning("the app secret is %s", SECRET)
    log.warning("refresh failed: access_token=ya29.A0ARrdaM-abcdefgh&expires=3600")
    log.warning("sent Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig")
    log.warning("database postgresql://bob:hunter2hunter@db.example/autopostr")
    log.warning("token in use: apt_Q2x8JkL0mNoPqRsTuVwXyZ012345")
    log.info("a token arrived", extra={"account": f"x:@acme {SECRET}"})
    try:
        raise RuntimeError(f"platform said no to {SECRET}")
    except RuntimeError:
        log.exception("publish failed")
    for output in (stream.getvalue(), log_file.read_text()):
        assert output.count("[redacted]") >= 7, output
        for secret in (
            SECRET,
            "ya29.A0ARrdaM",
            "eyJhbGciOiJIUzI1NiJ9",
            "hunter2hunter",
            "apt_Q2x8JkL0mNoPqRsTuVwXyZ012345",
        ):
            assert secret not in output
        assert "access_token=" in output and "x:@acme" in output  # what it was stays readable


def test_the_log_file_rotates_by_size(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log_file = tmp_path / "autopostr.log"
    monkeypatch.setenv("AUTOPOSTR_LOG_FILE", str(log_file))
    monkeypatch.setenv("AUTOPOSTR_LOG_FILE_MAX_BYTES", "2000")
    monkeypatch.setenv("AUTOPOSTR_LOG_FILE_BACKUPS", "2")
    logsetup.configure(load_settings(), fmt="json", stream=stream)
    for n in range(100):
        logging.getLogger("autopostr.test").info("line %s %s", n, "x" * 50)
    assert sorted(p.name for p in tmp_path.glob("autopostr.log*")) == [
        "autopostr.log",
        "autopostr.log.1",
        "autopostr.log.2",
    ]
    assert log_file.stat().st_size <= 2000
    assert all(lines(log_file.read_text()))


def test_a_daemon_logs_json_lines_with_its_context(sandbox: str, cli: Cli, tmp_path: Path) -> None:
    log_file = tmp_path / "daemon.log"
    group = Daemons(stdout=subprocess.DEVNULL)
    proc = group.start("--log-format", "json", AUTOPOSTR_LOG_FILE=str(log_file))
    try:
        post = new_post(cli, "logged", "--at", "+1s")
        wait_until(
            lambda: cli.ok("posts", "show", post, "--json").json()["status"] == "published",
            30,
            "the post to go out",
        )
        code, err = group.stop(proc)
    finally:
        group.kill_all()
    assert code == 0, err
    records = lines(err)  # every stderr line is JSON
    assert records == lines(log_file.read_text())
    daemon = records[0]["daemon"]
    assert all(r["daemon"] == daemon for r in records)
    (published,) = [r for r in records if r.get("post") == int(post)]
    assert published["account"] == "sandbox:demo" and published["level"] == "info"
    assert isinstance(published["destination"], int) and published["attempt"] == 1
