"""The media library end to end: upload, limits, dedupe, posts, rm, cleanup, publishing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from autopostr.models import Media, MediaChunk
from tests import media_samples as ms
from tests.helpers import Cli, age_media, db_session, make_due, run_autopostr, sandbox_lines

MEDIA_KEYS = {"id", "filename", "mime_type", "size", "sha256", "width", "height", "duration"}
MEDIA_KEYS |= {"alt_text"}


def media_rows() -> list[Media]:
    from sqlmodel import select

    with db_session() as session:
        return list(session.exec(select(Media)))


def chunk_rows() -> int:
    from sqlmodel import func, select

    with db_session() as session:
        return int(session.exec(select(func.count()).select_from(MediaChunk)).one())


def stored_files(home: Path) -> list[Path]:
    root = home / "media"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def nothing_stored(home: Path) -> bool:
    return media_rows() == [] and chunk_rows() == 0 and stored_files(home) == []


def upload(cli: Cli, *paths: Path, alt: str | list[str] | None = None) -> list[dict[str, object]]:
    """`media upload --json`; `alt` is one text, or one per file."""
    texts = [alt] if isinstance(alt, str) else alt or []
    extra = [arg for text in texts for arg in ("--alt", text)]
    return list(cli.ok("media", "upload", *map(str, paths), *extra, "--json").json())


# -- upload, list, show ---------------------------------------------------------------


def test_upload_list_show_with_the_documented_keys(
    initialized: str, cli: Cli, tmp_path: Path
) -> None:
    png = tmp_path / "logo.jpg"  # a PNG with the wrong name
    png.write_bytes(ms.image(tmp_path / "x.png", "PNG", size=(300, 200)).read_bytes())
    video = ms.mov(tmp_path / "clip.mov", width=1080, height=1920, seconds=7.5)
    gif = ms.animated_gif(tmp_path / "loop.gif", frames=3)
    rows = upload(cli, png, video, gif, alt=["Our logo", "A clip", "A loop"])
    for row in rows:
        assert MEDIA_KEYS <= set(row) and isinstance(row["id"], str) and row["created"] is True
    logo, clip, loop = rows
    assert (logo["filename"], logo["mime_type"], logo["width"], logo["height"]) == (
        "logo.jpg",
        "image/png",
        300,
        200,
    )
    assert logo["sha256"] == hashlib.sha256(png.read_bytes()).hexdigest()
    assert logo["size"] == png.stat().st_size and logo["alt_text"] == "Our logo"
    assert (clip["mime_type"], clip["width"], clip["height"], clip["duration"]) == (
        "video/quicktime",
        1080,
        1920,
        7.5,
    )
    assert (loop["mime_type"], loop["frames"], loop["animated"]) == ("image/gif", 3, True)
    listed = cli.ok("media", "list", "--json").json()
    assert [m["id"] for m in listed] == [logo["id"], clip["id"], loop["id"]]
    shown = cli.ok("media", "show", str(logo["id"]), "--json").json()
    assert MEDIA_KEYS <= set(shown) and shown["posts"] == []
    table = cli.ok("media", "list")
    assert "logo.jpg" in table.stdout and "image/png" in table.stdout and table.stderr == ""
    human = cli.ok("media", "upload", str(png))
    assert human.stdout == "" and "Already in the library" in human.stderr


def test_dedupe_by_sha256_updates_alt_text(initialized: str, cli: Cli, tmp_path: Path) -> None:
    first = ms.image(tmp_path / "a.webp", "WEBP")
    copy = tmp_path / "copy-of-a.webp"
    copy.write_bytes(first.read_bytes())
    (one,) = upload(cli, first)
    (two,) = upload(cli, copy, alt="A sunset")
    assert two["id"] == one["id"] and two["created"] is False
    assert two["alt_text"] == "A sunset" and two["filename"] == "a.webp"
    (three,) = upload(cli, first)  # no --alt: the alt text stays
    assert three["alt_text"] == "A sunset"
    assert len(media_rows()) == 1


def test_bad_files_are_refused_and_nothing_is_stored(
    initialized: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    good = ms.image(tmp_path / "good.png", "PNG")
    text = tmp_path / "clip.mp4"
    text.write_text("just some text\n")
    whole = ms.image(tmp_path / "whole.jpg", "JPEG", size=(200, 100)).read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole[: len(whole) // 2])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = {
        text: "it is text",
        truncated: "truncated or corrupt",
        empty: "empty",
        folder: "is a directory",
        tmp_path / "missing.png": "no such file",
    }
    for path, fragment in cases.items():
        # The good file first: one bad file and none of them is stored.
        run = cli("media", "upload", str(good), str(path))
        assert run.exit_code == 5, (path, run.stderr)
        assert run.stderr.startswith("Error: ") and str(path) in run.stderr
        assert fragment in run.stderr and run.stdout == ""
        assert nothing_stored(isolated_env)


def test_size_and_type_limits_are_configurable(
    initialized: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    video = ms.mp4(tmp_path / "clip.mp4", payload=b"\0" * 5000)
    over = cli("media", "upload", str(video), env={"AUTOPOSTR_MEDIA_MAX_BYTES": "4KiB"})
    assert over.exit_code == 5
    assert (
        "over the upload limit of 4.0 KiB" in over.stderr
        and "AUTOPOSTR_MEDIA_MAX_BYTES" in over.stderr
    )
    only_images = {"AUTOPOSTR_MEDIA_ALLOWED_TYPES": "image/jpeg, image/png"}
    refused = cli("media", "upload", str(video), env=only_images)
    assert refused.exit_code == 5 and "video/mp4 uploads are not allowed" in refused.stderr
    bad_setting = cli("media", "upload", str(video), env={"AUTOPOSTR_MEDIA_MAX_BYTES": "lots"})
    assert bad_setting.exit_code == 5
    assert "AUTOPOSTR_MEDIA_MAX_BYTES must be a size" in bad_setting.stderr
    assert nothing_stored(isolated_env)
    cli.ok("media", "upload", str(video), env={"AUTOPOSTR_MEDIA_MAX_BYTES": "1MB"})


def test_another_teams_media_is_not_found(initialized: str, cli: Cli, tmp_path: Path) -> None:
    (mine,) = upload(cli, ms.image(tmp_path / "mine.png", "PNG"))
    cli.ok(
        "auth", "register", "--email", "b@example.com", "--password-stdin", input="b-password-123\n"
    )
    media_id = str(mine["id"])
    for args in (["media", "show", media_id], ["media", "rm", media_id]):
        run = cli(*args)
        assert run.exit_code == 3 and f"media {mine['id']} not found" in run.stderr
    cli.ok("accounts", "add", "sandbox", "--handle", "b")
    run = cli("posts", "create", "--to", "sandbox:b", "--text", "hi", "--media", str(mine["id"]))
    assert run.exit_code == 3
    assert cli.ok("media", "list", "--json").json() == []
    # Their own upload of the same bytes is their own item.
    (theirs,) = upload(cli, tmp_path / "mine.png")
    assert theirs["id"] != mine["id"] and theirs["created"] is True


def test_viewers_cannot_upload(initialized: str, cli: Cli, tmp_path: Path) -> None:
    from sqlmodel import select

    from autopostr.models import TeamMember

    with db_session() as session:
        for member in session.exec(select(TeamMember)):
            member.role = "viewer"
            session.add(member)
    run = cli("media", "upload", str(ms.image(tmp_path / "a.png", "PNG")))
    assert run.exit_code == 4 and "media write needs the editor role" in run.stderr
    assert cli.ok("media", "list", "--json").json() == []


# -- posts ----------------------------------------------------------------------------


def test_posts_create_uploads_paths_and_attaches_ids(
    sandbox: str, cli: Cli, tmp_path: Path
) -> None:
    (logo,) = upload(cli, ms.image(tmp_path / "logo.png", "PNG"))
    photo = ms.image(tmp_path / "photo.jpg", "JPEG", seed=3)
    post = cli.ok(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "Two pictures",
        "--media",
        str(logo["id"]),
        "--media",
        str(photo),
        "--json",
    ).json()
    assert [m["filename"] for m in post["media"]] == ["logo.png", "photo.jpg"]
    assert post["media"][1]["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert len(media_rows()) == 2
    shown = cli.ok("media", "show", str(logo["id"]), "--json").json()
    assert shown["posts"] == [post["id"]]


def test_a_post_that_fails_validation_leaves_no_uploaded_media(
    sandbox: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    video = ms.mp4(tmp_path / "clip.mp4")
    image = ms.image(tmp_path / "a.png", "PNG")
    too_long = cli(
        "posts", "create", "--to", "sandbox:demo", "--text", "x" * 300, "--media", str(video)
    )
    assert too_long.exit_code == 5 and "280" in too_long.stderr
    mixed = cli(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "mixed",
        "--media",
        str(video),
        "--media",
        str(image),
    )
    assert mixed.exit_code == 5
    assert "sandbox:demo: Sandbox takes images or a video, not both" in mixed.stderr
    assert nothing_stored(isolated_env)
    assert cli.ok("posts", "list", "--json").json() == []


def test_per_platform_limits_name_the_destination(sandbox: str, cli: Cli, tmp_path: Path) -> None:
    images = [ms.image(tmp_path / f"{i}.png", "PNG", seed=i) for i in range(5)]
    five = cli(
        "posts",
        "create",
        "--to",
        "sandbox:demo",
        "--text",
        "five",
        *[arg for path in images for arg in ("--media", str(path))],
    )
    assert five.exit_code == 5
    assert "sandbox:demo: 5 images, Sandbox takes at most 4" in five.stderr
    videos = [ms.mp4(tmp_path / f"{i}.mp4", width=640 + i, seconds=10) for i in range(2)]
    two = cli(
        "posts", "create", "--to", "sandbox:demo", "--text", "2", "--media", str(videos[0]),
        "--media", str(videos[1]),
    )  # fmt: skip
    assert two.exit_code == 5 and "sandbox:demo: 2 videos, Sandbox takes at most 1" in two.stderr
    long = ms.mp4(tmp_path / "long.mp4", seconds=600)
    run = cli("posts", "create", "--to", "sandbox:demo", "--text", "long", "--media", str(long))
    assert run.exit_code == 5
    assert "sandbox:demo: video" in run.stderr and "lasts 600 s" in run.stderr
    four = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "four",
        *[arg for path in images[:4] for arg in ("--media", str(path))], "--json",
    ).json()  # fmt: skip
    assert len(four["media"]) == 4


def test_aspect_ratio_limits_name_the_destination() -> None:
    from autopostr.config import load_settings
    from autopostr.platforms.base import Limits, MediaLimits
    from autopostr.platforms.sandbox import SandboxPlatform
    from autopostr.posts import validate_media

    class Square(SandboxPlatform):
        title = "Squareish"
        limits = Limits(
            max_chars=100,
            media=MediaLimits(
                min_aspect=0.8, max_aspect=1.91, min_video_aspect=1 / 3, max_video_aspect=3.0
            ),
        )

    def item(i: int, mime: str, w: int, h: int) -> Media:
        return Media(
            id=i, team_id=1, filename="f", mime_type=mime, size=10, sha256="0", width=w, height=h
        )

    platform = Square(load_settings({"AUTOPOSTR_HOME": "/tmp/x"}))
    assert validate_media(platform, "sq:acme", [item(1, "image/jpeg", 1080, 1350)]) == []
    assert validate_media(platform, "sq:acme", [item(1, "image/jpeg", 1080, 566)]) == []
    (tall,) = validate_media(platform, "sq:acme", [item(2, "image/jpeg", 1080, 1920)])
    assert tall == (
        "sq:acme: image 2 is 1080×1920 (aspect ratio 0.56:1), Squareish takes 0.8:1 to 1.91:1"
    )
    assert validate_media(platform, "sq:acme", [item(3, "video/mp4", 1080, 1920)]) == []
    (wide,) = validate_media(platform, "sq:acme", [item(4, "video/mp4", 4000, 1000)])
    assert wide.startswith("sq:acme: video 4 is 4000×1000") and "0.333333:1 to 3:1" in wide


def test_posts_edit_attaches_and_detaches(sandbox: str, cli: Cli, tmp_path: Path) -> None:
    a, b = upload(
        cli, ms.image(tmp_path / "a.png", "PNG"), ms.image(tmp_path / "b.png", "PNG", seed=2)
    )
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "hi", "--media", str(a["id"]), "--json"
    ).json()
    c = ms.image(tmp_path / "c.jpg", "JPEG", seed=4)
    edited = cli.ok(
        "posts", "edit", post["id"], "--add-media", str(b["id"]), "--add-media", str(c), "--json"
    ).json()
    assert [m["filename"] for m in edited["media"]] == ["a.png", "b.png", "c.jpg"]
    detached = cli.ok("posts", "edit", post["id"], "--remove-media", str(a["id"]), "--json").json()
    assert [m["filename"] for m in detached["media"]] == ["b.png", "c.jpg"]
    assert len(media_rows()) == 3  # detached media stays in the library
    missing = cli("posts", "edit", post["id"], "--remove-media", str(a["id"]))
    assert missing.exit_code == 5 and "has no such media" in missing.stderr
    video = ms.mp4(tmp_path / "v.mp4")
    mixed = cli("posts", "edit", post["id"], "--add-media", str(video))
    assert mixed.exit_code == 5 and "sandbox:demo" in mixed.stderr
    after = cli.ok("posts", "show", post["id"], "--json").json()
    assert [m["filename"] for m in after["media"]] == ["b.png", "c.jpg"]
    assert len(media_rows()) == 3  # the refused edit's upload is gone too


# -- rm and cleanup -----------------------------------------------------------------------


def test_rm_refuses_while_a_scheduled_post_uses_it_unless_forced(
    sandbox: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    used, loose = upload(
        cli, ms.image(tmp_path / "a.png", "PNG"), ms.image(tmp_path / "b.png", "PNG", seed=9)
    )
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "soon", "--at", "+1h",
        "--media", str(used["id"]), "--json",
    ).json()  # fmt: skip
    refused = cli("media", "rm", str(used["id"]))
    assert refused.exit_code == 5
    assert f"used by post(s) {post['id']}" in refused.stderr and "--force" in refused.stderr
    assert len(media_rows()) == 2
    cli.ok("media", "rm", "--yes", str(loose["id"]))
    assert {m.id for m in media_rows()} == {int(str(used["id"]))}
    cli.ok("media", "rm", "--yes", str(used["id"]), "--force")
    assert media_rows() == [] and chunk_rows() == 0 and stored_files(isolated_env) == []
    assert cli.ok("posts", "show", post["id"], "--json").json()["media"] == []
    assert cli("media", "show", str(used["id"])).exit_code == 3


def test_rm_of_media_of_published_posts_needs_no_force(
    sandbox: str, cli: Cli, tmp_path: Path
) -> None:
    (item,) = upload(cli, ms.image(tmp_path / "a.png", "PNG"))
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "now", "--media", str(item["id"]),
        "--json",
    ).json()  # fmt: skip
    assert cli.ok("posts", "publish", post["id"], "--json").json()["status"] == "published"
    cli.ok("media", "rm", "--yes", str(item["id"]))


def test_local_files_shared_by_two_teams_go_with_the_last_row(
    initialized: str, cli: Cli, tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_MEDIA_STORAGE", "local")
    image = ms.image(tmp_path / "a.png", "PNG")
    (mine,) = upload(cli, image)
    cli.ok(
        "auth", "register", "--email", "b@example.com", "--password-stdin", input="b-password-123\n"
    )
    (theirs,) = upload(cli, image)
    assert len(stored_files(isolated_env)) == 1
    cli.ok("media", "rm", "--yes", str(theirs["id"]))
    assert len(stored_files(isolated_env)) == 1  # still the first team's
    with db_session() as session:
        session.delete(session.get(Media, int(str(mine["id"]))))


def test_cleanup_removes_old_orphans_and_dry_run_only_lists(
    sandbox: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    old, fresh, attached = upload(
        cli,
        ms.mp4(tmp_path / "old.mp4", width=640),
        ms.image(tmp_path / "fresh.png", "PNG"),
        ms.image(tmp_path / "attached.png", "PNG", seed=5),
    )
    cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "x", "--media", str(attached["id"]))
    for item in (old, attached):
        age_media(int(str(item["id"])), hours=30)
    dry = cli.ok("media", "cleanup", "--dry-run", "--json").json()
    assert dry["dry_run"] is True and dry["count"] == 1 and dry["bytes"] == old["size"]
    assert [m["id"] for m in dry["media"]] == [old["id"]]
    assert len(media_rows()) == 3
    longer = cli.ok("media", "cleanup", "--yes", "--older-than", "2d", "--json").json()
    assert longer["count"] == 0
    done = cli.ok("media", "cleanup", "--yes", "--json").json()
    assert done["dry_run"] is False and [m["id"] for m in done["media"]] == [old["id"]]
    assert sorted(m.id or 0 for m in media_rows()) == sorted(
        int(str(i["id"])) for i in (fresh, attached)
    )
    if sandbox == "sqlite":
        assert old["sha256"] not in [p.name for p in stored_files(isolated_env)]
        assert len(stored_files(isolated_env)) == 2
    age_media(int(str(fresh["id"])), hours=0.5)
    human = cli.ok("media", "cleanup", "--older-than", "10m", "--dry-run")
    assert "Would delete media" in human.stderr and "fresh.png" in human.stderr
    bad = cli("media", "cleanup", "--older-than", "soon")
    assert bad.exit_code == 5 and "--older-than" in bad.stderr


def test_reuploading_an_orphan_restarts_its_grace_period(
    initialized: str, cli: Cli, tmp_path: Path
) -> None:
    image = ms.image(tmp_path / "a.png", "PNG")
    (item,) = upload(cli, image)
    age_media(int(str(item["id"])), hours=48)
    upload(cli, image)
    assert cli.ok("media", "cleanup", "--yes", "--json").json()["count"] == 0


def test_the_daemon_cleans_media_daily_across_teams(
    initialized: str, cli: Cli, tmp_path: Path
) -> None:
    from autopostr.config import load_settings
    from autopostr.daemon.jobs import JOBS
    from autopostr.db import Database

    (job,) = [j for j in JOBS if j.name == "media-cleanup"]
    assert job.every == timedelta(days=1)
    (mine,) = upload(cli, ms.image(tmp_path / "a.png", "PNG"))
    cli.ok(
        "auth", "register", "--email", "b@example.com", "--password-stdin", input="b-password-123\n"
    )
    (theirs,) = upload(cli, ms.image(tmp_path / "b.png", "PNG", seed=7))
    (young,) = upload(cli, ms.image(tmp_path / "c.png", "PNG", seed=8))
    for item in (mine, theirs):
        age_media(int(str(item["id"])), hours=25)
    assert job.run(Database(load_settings()), load_settings(), threading.Event()) == 2
    assert [m.id for m in media_rows()] == [int(str(young["id"]))]


# -- publishing -------------------------------------------------------------------------


def test_published_media_digests_are_in_the_sandbox_line(
    sandbox: str, cli: Cli, tmp_path: Path, isolated_env: Path
) -> None:
    images = [ms.image(tmp_path / f"{i}.jpg", "JPEG", seed=i) for i in range(2)]
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "pics",
        "--media", str(images[0]), "--media", str(images[1]), "--json",
    ).json()  # fmt: skip
    assert cli.ok("posts", "publish", post["id"], "--json").json()["status"] == "published"
    (line,) = sandbox_lines(isolated_env)
    assert line["media"] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in images]


def test_media_whose_bytes_are_gone_is_retried_not_published(
    sandbox: str, cli: Cli, tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPOSTR_MEDIA_STORAGE", "local")
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "pic", "--media",
        str(ms.image(tmp_path / "a.png", "PNG")), "--json",
    ).json()  # fmt: skip
    for path in stored_files(isolated_env):
        path.unlink()
    run = cli("posts", "publish", post["id"], "--json")
    (dest,) = run.json()["destinations"]
    assert dest["status"] == "retrying" and "missing" in dest["error"]
    assert sandbox_lines(isolated_env) == []
    cli("posts", "retry", post["id"], env={"AUTOPOSTR_MAX_ATTEMPTS": "1"})
    (dest,) = cli.ok("posts", "show", post["id"], "--json").json()["destinations"]
    assert dest["status"] == "failed" and "missing" in dest["error"]


def test_a_daemon_on_another_machine_publishes_media_from_postgresql(
    postgres_only: str,
    cli: Cli,
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", key)
    cli.ok("init")
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    video = ms.mp4(tmp_path / "clip.mp4", payload=os.urandom(3 * 1024 * 1024 + 17))
    image = ms.image(tmp_path / "still.png", "PNG")
    post = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "From the database",
        "--media", str(video), "--at", "+1h", "--json",
    ).json()  # fmt: skip
    second = cli.ok(
        "posts", "create", "--to", "sandbox:demo", "--text", "A still",
        "--media", str(image), "--at", "+1h", "--json",
    ).json()  # fmt: skip
    assert {m["sha256"] for m in post["media"] + second["media"]} == {
        hashlib.sha256(video.read_bytes()).hexdigest(),
        hashlib.sha256(image.read_bytes()).hexdigest(),
    }
    assert stored_files(isolated_env) == []  # nothing on this machine's disk
    make_due(int(post["id"]))
    make_due(int(second["id"]))
    elsewhere = tmp_path / "other-machine"
    proc = run_autopostr(
        "daemon",
        "run",
        "--once",
        "--json",
        env={
            "AUTOPOSTR_HOME": str(elsewhere),
            "AUTOPOSTR_CONFIG": str(elsewhere / "config.toml"),
            "AUTOPOSTR_DATABASE_URL": os.environ["AUTOPOSTR_DATABASE_URL"],
            "AUTOPOSTR_ENCRYPTION_KEY": key,
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert {o["status"] for o in json.loads(proc.stdout)} == {"published"}
    lines = {str(line["post_id"]): line for line in sandbox_lines(elsewhere)}
    # The sandbox hashed what it streamed through MediaItem.open: the exact bytes.
    assert lines[post["id"]]["media"] == [hashlib.sha256(video.read_bytes()).hexdigest()]
    assert lines[second["id"]]["media"] == [hashlib.sha256(image.read_bytes()).hexdigest()]
    assert sandbox_lines(isolated_env) == []
