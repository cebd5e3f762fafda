"""The sandbox platform: one appended JSON line per call, flakiness on demand, intact under concurrency."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autopostr.config import Settings, load_settings
from autopostr.errors import ConfigError
from autopostr.platforms.base import (
    AccountRef,
    MediaItem,
    PermanentError,
    PublishRequest,
    TransientError,
)
from autopostr.platforms.sandbox import SandboxPlatform

LINE_KEYS = {
    "remote_id",
    "account",
    "post_id",
    "destination_id",
    "text",
    "parts",
    "first_comment",
    "media",
    "idempotency_key",
    "at",
}

ACCOUNT = AccountRef(id=1, platform="sandbox", handle="acme")


def _sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> SandboxPlatform:
    monkeypatch.setenv("AUTOPOSTR_SANDBOX_DIR", str(tmp_path / "sbx"))
    for key, value in env.items():
        monkeypatch.setenv(f"AUTOPOSTR_SANDBOX_{key.upper()}", value)
    return SandboxPlatform(load_settings())


def _request(n: int = 1, **kwargs: Any) -> PublishRequest:
    defaults: dict[str, Any] = {
        "post_id": n,
        "destination_id": 100 + n,
        "parts": [f"post number {n}"],
        "idempotency_key": f"key-{n}",
    }
    defaults.update(kwargs)
    return PublishRequest(**defaults)


def _image(i: int) -> MediaItem:
    return MediaItem(i, f"img{i}.png", "image/png", 1000, f"{i:064x}")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_publish_appends_one_line_with_every_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path)
    request = _request(
        7,
        parts=["first part 日本語", "second part"],
        first_comment="a comment",
        media=[_image(1), _image(2)],
    )
    before = datetime.now(UTC)
    result = sandbox.publish(ACCOUNT, request)

    path = tmp_path / "sbx" / "acme.jsonl"
    [line] = _lines(path)
    assert set(line) == LINE_KEYS
    assert line["remote_id"] == result.remote_id and result.remote_id.startswith("sbx_")
    assert result.url == f"https://sandbox.autopostr.invalid/acme/{result.remote_id}"
    assert line["account"] == "acme"
    assert (line["post_id"], line["destination_id"]) == (7, 107)
    assert line["text"] == "first part 日本語\n\nsecond part"
    assert line["parts"] == ["first part 日本語", "second part"]
    assert line["first_comment"] == "a comment"
    assert line["media"] == [_image(1).sha256, _image(2).sha256]
    assert line["idempotency_key"] == "key-7"
    at = datetime.fromisoformat(line["at"])
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs((at - before).total_seconds()) < 60


def test_default_dir_is_in_the_home(isolated_env: Path) -> None:
    sandbox = SandboxPlatform(load_settings())
    result = sandbox.publish(ACCOUNT, _request())
    [line] = _lines(isolated_env / "sandbox" / "acme.jsonl")
    assert line["remote_id"] == result.remote_id
    assert line["text"] == "post number 1"


def test_lines_are_only_ever_appended(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path)
    path = tmp_path / "sbx" / "acme.jsonl"
    ids = set()
    snapshot = b""
    for n in range(5):
        ids.add(sandbox.publish(ACCOUNT, _request(n)).remote_id)
        content = path.read_bytes()
        assert content.startswith(snapshot)
        assert content.count(b"\n") == n + 1
        snapshot = content
    assert len(ids) == 5

    remote_id = next(iter(ids))
    assert sandbox.delete(ACCOUNT, remote_id) is True
    content = path.read_bytes()
    assert content.startswith(snapshot)
    assert _lines(path)[-1]["deleted"] == remote_id
    assert sandbox.delete(ACCOUNT, remote_id) is False  # already gone, and logged all the same
    assert _lines(path)[-1]["deleted"] == remote_id


def test_handles_cannot_escape_the_sandbox_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path)
    for handle in ("../evil", "a/b", "..", "@me.example"):
        path = sandbox.log_path(handle)
        assert path.parent == tmp_path / "sbx", handle
        assert path.name not in {".jsonl", "..jsonl"}
    assert sandbox.log_path("@me.example").name == "@me.example.jsonl"


def test_latency_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path, latency_ms="200")
    start = time.monotonic()
    sandbox.publish(ACCOUNT, _request())
    elapsed = time.monotonic() - start
    assert 0.19 <= elapsed < 10


def test_fail_rate_one_always_fails_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path, fail_rate="1")
    for n in range(20):
        with pytest.raises(TransientError) as info:
            sandbox.publish(ACCOUNT, _request(n))
        assert info.value.transient
    assert not (tmp_path / "sbx" / "acme.jsonl").exists()
    # The sandbox still tells the truth about what went out: nothing.
    assert sandbox.find_published(ACCOUNT, _request(1)) is None


def test_fail_rate_zero_never_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path, fail_rate="0")
    for n in range(50):
        sandbox.publish(ACCOUNT, _request(n))
    assert len(_lines(tmp_path / "sbx" / "acme.jsonl")) == 50


def test_fail_rate_is_a_share_of_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path, fail_rate="0.5")
    monkeypatch.setattr("random.random", lambda: 0.49)
    with pytest.raises(TransientError):
        sandbox.publish(ACCOUNT, _request())
    monkeypatch.setattr("random.random", lambda: 0.5)
    sandbox.publish(ACCOUNT, _request())
    assert len(_lines(tmp_path / "sbx" / "acme.jsonl")) == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("latency_ms", "slow"),
        ("latency_ms", "-1"),
        ("latency_ms", "inf"),
        ("fail_rate", "1.5"),
        ("fail_rate", "-0.1"),
        ("fail_rate", "nan"),
        ("fail_rate", "half"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str, value: str
) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path, **{key: value})
    with pytest.raises(ConfigError, match=f"AUTOPOSTR_SANDBOX_{key.upper()}") as info:
        sandbox.publish(ACCOUNT, _request())
    assert repr(value) in info.value.message
    assert not (tmp_path / "sbx" / "acme.jsonl").exists()


def test_metrics_are_deterministic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path)
    first = sandbox.metrics(ACCOUNT, "sbx_0123456789abcdef")
    assert sandbox.metrics(ACCOUNT, "sbx_0123456789abcdef") == first
    assert SandboxPlatform(load_settings()).metrics(ACCOUNT, "sbx_0123456789abcdef") == first
    others = {sandbox.metrics(ACCOUNT, f"sbx_{n:016x}") for n in range(20)}
    assert len(others) > 15
    for m in [first, *others]:
        assert m.impressions is not None and m.likes is not None and m.clicks is not None
        assert m.impressions > 0
        assert 0 <= m.likes <= m.impressions
        assert 0 <= m.clicks <= m.impressions


def test_find_published(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path)
    request = _request(3)
    assert sandbox.find_published(ACCOUNT, request) is None  # no file yet
    published = sandbox.publish(ACCOUNT, request)
    sandbox.publish(ACCOUNT, _request(4))

    assert sandbox.find_published(ACCOUNT, request) == published
    assert sandbox.find_published(ACCOUNT, _request(5)) is None
    # Same destination, another attempt's key: not this publish.
    assert sandbox.find_published(ACCOUNT, _request(3, idempotency_key="other")) is None
    # Another account's file is another account's posts.
    other = AccountRef(id=2, platform="sandbox", handle="other")
    assert sandbox.find_published(other, request) is None


def test_limits_and_rejections(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox = _sandbox(monkeypatch, tmp_path)
    assert sandbox.limits.max_chars == 280
    assert sandbox.limits.counting == "x-weighted"
    assert sandbox.limits.threads and sandbox.limits.first_comment
    assert not sandbox.needs_credentials

    sandbox.publish(ACCOUNT, _request(parts=["中" * 140]))  # exactly 280 weighted
    video = MediaItem(9, "v.mp4", "video/mp4", 10_000, "9" * 64, duration=10.0)
    rejected = [
        _request(parts=["中" * 141]),
        _request(parts=[]),
        _request(parts=["ok"], first_comment="x" * 281),
        _request(media=[_image(i) for i in range(5)]),
        _request(media=[_image(1), video]),
        _request(media=[video, video]),
        _request(media=[MediaItem(3, "a.pdf", "application/pdf", 10, "3" * 64)]),
    ]
    for request in rejected:
        with pytest.raises(PermanentError):
            sandbox.publish(ACCOUNT, request)
    assert len(_lines(tmp_path / "sbx" / "acme.jsonl")) == 1


# -- concurrency ------------------------------------------------------------------------------

PER_WORKER = 25
LONG_TEXT = "concurrent " * 20  # long lines make torn writes likelier to show


def _publish_many(settings: Settings, worker: int) -> None:
    sandbox = SandboxPlatform(settings)
    for n in range(PER_WORKER):
        sandbox.publish(
            ACCOUNT,
            _request(
                worker * 1000 + n,
                parts=[LONG_TEXT.strip(), f"worker {worker} part {n}"],
                media=[_image(i) for i in range(4)],
            ),
        )


def _publish_many_in_child(env: dict[str, str], worker: int) -> None:
    _publish_many(load_settings(env), worker)


def _check_log(path: Path, expected: int) -> None:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = _lines(path)
    assert len(lines) == expected
    assert all(set(line) == LINE_KEYS for line in lines)
    assert len({line["remote_id"] for line in lines}) == expected
    assert len({line["post_id"] for line in lines}) == expected


def test_concurrent_threads_write_whole_lines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = _sandbox(monkeypatch, tmp_path).settings
    threads = [threading.Thread(target=_publish_many, args=(settings, w)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _check_log(tmp_path / "sbx" / "acme.jsonl", 6 * PER_WORKER)


@pytest.mark.slow
def test_concurrent_processes_write_whole_lines(isolated_env: Path, tmp_path: Path) -> None:
    env = {
        "AUTOPOSTR_HOME": str(isolated_env),
        "AUTOPOSTR_CONFIG": str(tmp_path / "config.toml"),
        "AUTOPOSTR_SANDBOX_DIR": str(tmp_path / "sbx"),
    }
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_publish_many_in_child, args=(env, w)) for w in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    _check_log(tmp_path / "sbx" / "acme.jsonl", 3 * PER_WORKER)


def test_when_it_needs_reconnecting_the_printed_fix_runs_as_printed(
    initialized: str, cli: Any
) -> None:
    from tests.helpers import printed_fixes, run_printed_fixes

    handle = "o'neil"  # a handle a shell needs quoted: the printed command quotes it
    cli.ok("accounts", "add", "sandbox", "--handle", handle)
    cli.ok("accounts", "disconnect", f"sandbox:{handle}", "--yes")
    refused = cli("posts", "create", "--to", f"sandbox:{handle}", "--text", "hi")
    assert refused.exit_code == 5
    assert printed_fixes(refused.stderr) == [
        ("autopostr accounts add sandbox --handle 'o'\"'\"'neil'", None)
    ]
    run_printed_fixes(cli, refused.stderr)
    assert cli.ok("accounts", "show", f"sandbox:{handle}", "--json").json()["status"] == "active"
    cli.ok("posts", "create", "--to", f"sandbox:{handle}", "--text", "hi")
