"""`autopostr media`: the team's images and videos."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli import options
from autopostr.cli.common import JSON_OPTION, YES_OPTION, confirm, settings, signed_in

app = typer.Typer(help="Upload, list and remove images and videos.", no_args_is_help=True)


def _row(data: dict[str, Any]) -> dict[str, Any]:
    from autopostr.media import human_size

    size = f"{data['width']}×{data['height']}" if data["width"] else None
    length = f"{data['duration']:g} s" if data["duration"] is not None else None
    return {**data, "bytes": human_size(data["size"]), "dims": size, "length": length}


COLUMNS = [
    ("id", "ID"),
    ("filename", "File"),
    ("mime_type", "Type"),
    ("bytes", "Size"),
    ("dims", "Pixels"),
    ("length", "Length"),
    ("alt_text", "Alt text"),
]


@app.command("upload")
def upload(
    paths: list[str] = typer.Argument(
        ..., help="Image or video files (JPEG, PNG, GIF, WebP, MP4, MOV)."
    ),
    alt: list[str] = typer.Option(
        [], "--alt", help="Alt text describing a file; one per file, in order."
    ),
    quiet: bool = options.quiet_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Upload files to the team's library: all of them, or none when one is refused.

    The type comes from the bytes, not the name. The same bytes uploaded again
    give the existing item (with --alt, its alt text is updated).
    With --json: an array of media items, each with "created": false when it
    was already there.

    \b
    Example:
      autopostr media upload logo.png --alt "The new logo"
      autopostr media upload a.png b.png --alt "Our team" --alt "The office" --json
    """
    from autopostr import media
    from autopostr.cli import output
    from autopostr.views import uploaded_json

    with signed_in() as (session, actor):
        results = media.upload_many(session, actor, settings(), paths, alt)
        rows = [uploaded_json(r) for r in results]
    output.emit(rows, as_json, _uploaded)


def _uploaded(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    for row in rows:
        verb = "Uploaded" if row["created"] else "Already in the library:"
        output.success(f"{verb} {row['filename']} as media {row['id']} ({row['mime_type']})")


@app.command("list")
def list_(limit: int = options.limit_option(200, "items"), as_json: bool = JSON_OPTION) -> None:
    """List the team's media, oldest first; says how many there are when -n cuts the list.

    \b
    Example:
      autopostr media list --json | jq -r '.[] | select(.mime_type == "video/mp4") | .id'
    """
    from autopostr import media
    from autopostr.cli import output
    from autopostr.views import library_item_json

    with signed_in() as (session, actor):
        found = media.list_media(session, actor)
        rows = [library_item_json(item) for item in found[:limit]]
    output.emit(rows, as_json, _show_library)
    output.shown(options.shown(len(rows), len(found), "media items"))


def _show_library(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    output.print_table(
        [_row(r) for r in rows],
        COLUMNS,
        empty="No media. Upload some with `autopostr media upload FILE`.",
    )


@app.command("show")
def show(
    media_id: int = typer.Argument(..., help="Media id."), as_json: bool = JSON_OPTION
) -> None:
    """Show one media item and the posts that use it.

    \b
    Example:
      autopostr media show 7 --json
    """
    from autopostr import media
    from autopostr.cli import output
    from autopostr.views import media_view_json

    with signed_in() as (session, actor):
        data = media_view_json(media.show(session, actor, media_id))
    output.emit(data, as_json, _show_item)


def _show_item(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    row = _row(data)
    output.print_fields(
        [
            ("id", row["id"]),
            ("file", row["filename"]),
            ("type", row["mime_type"] + (" (animated)" if row["animated"] else "")),
            ("size", row["bytes"]),
            ("pixels", row["dims"]),
            ("length", row["length"]),
            ("alt text", row["alt_text"]),
            ("sha256", row["sha256"]),
            ("stored", row["storage"]),
            ("posts", ", ".join(row["posts"]) or None),
        ]
    )


@app.command("rm")
def rm(
    media_id: int = typer.Argument(..., help="Media id."),
    force: bool = typer.Option(
        False, "--force", help="Also remove it from posts not yet published that use it."
    ),
    yes: bool = YES_OPTION,
) -> None:
    """Delete a media item and its stored bytes.

    Refused (exit 5) while a post not yet published uses it, unless --force.
    Asks first in a terminal; elsewhere it needs --yes.

    \b
    Example:
      autopostr media rm 7 --force --yes
    """
    from autopostr import media
    from autopostr.cli import output

    with signed_in() as (session, actor):
        found = media.to_remove(session, actor, media_id, force=force)
        item = found.item
        detail = (
            f"Media {media_id}: {item.filename} ({item.mime_type}, {media.human_size(item.size)})"
        )
        if found.posts:
            detail += f"; it is taken out of post(s) {', '.join(map(str, found.posts))}"
    confirm(f"delete media {media_id}", yes, [detail])
    with signed_in() as (session, actor):
        item = media.remove(session, actor, settings(), media_id, force=force)
    output.success(f"Media {media_id} ({item.filename}) deleted")


@app.command("cleanup")
def cleanup(
    older_than: str = typer.Option(
        "24h", "--older-than", help="Only orphans untouched for this long (90m, 24h, 7d)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would go; delete nothing."),
    yes: bool = YES_OPTION,
    quiet: bool = options.quiet_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete the team's orphaned media: items no post uses, older than --older-than.

    The daemon does this daily with a 24 h grace period. Asks first in a
    terminal; elsewhere it needs --yes (not with --dry-run).
    With --json: {"dry_run", "count", "bytes", "media": [...]}.

    \b
    Examples:
      autopostr media cleanup --older-than 7d --dry-run
      autopostr media cleanup --older-than 7d --yes
    """
    import sys

    from autopostr import media
    from autopostr.cli import output
    from autopostr.timeparse import parse_duration
    from autopostr.views import cleanup_json

    grace = parse_duration(older_than, "--older-than")
    if not dry_run:
        with signed_in() as (session, actor):
            going = media.cleanup_team(
                session, actor, settings(), older_than=grace, dry_run=True
            ).items
            details = [f"Media {i.id}: {i.filename} ({media.human_size(i.size)})" for i in going]
        # Nothing to ask about in a terminal; a script still needs --yes, every time.
        if going or not sys.stdin.isatty():
            confirm(f"delete {len(going)} orphaned media item(s)", yes, details)
    with signed_in() as (session, actor):
        result = media.cleanup_team(session, actor, settings(), older_than=grace, dry_run=dry_run)
        data = cleanup_json(result)
    output.emit(data, as_json, _cleaned)


def _cleaned(data: dict[str, Any]) -> None:
    from autopostr.cli import output
    from autopostr.media import human_size

    verb = "Would delete" if data["dry_run"] else "Deleted"
    for row in data["media"]:
        output.info(f"{verb} media {row['id']} ({row['filename']}, {human_size(row['size'])})")
    output.success(f"{verb} {data['count']} orphaned item(s), {human_size(data['bytes'])}")
