"""Top-level commands for content as code: plan, apply, export-dir."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from autopostr.cli.common import JSON_OPTION, YES_OPTION, confirm, settings, signed_in, zone_for

if TYPE_CHECKING:
    from autopostr.ascode.plan import Plan

DIR_ARGUMENT = typer.Argument(..., help="The content folder: Markdown files with front matter.")
TZ_OPTION = typer.Option("", "--tz", help="Zone for files without `timezone:` (default: yours).")
PRUNE_OPTION = typer.Option(
    False, "--prune", help="Delete the folder's posts whose files are gone."
)
AS_APPROVED_OPTION = typer.Option(
    False,
    "--as-approved",
    help="Owners only, in a team with `--approval-by git`: the merged pull request is the "
    "approval.",
)
MARKS = {
    "create": "+",
    "change": "~",
    "delete": "-",
    "republish": "+",
    "conflict": "!",
    "published": "=",
    "keep": "?",
    "forget": "-",
    "approve": "✓",
    "unchanged": " ",
}
WORDS = {
    "create": "create",
    "change": "change",
    "delete": "delete",
    "republish": "post again",
    "conflict": "conflict",
    "published": "published — not changed",
    "keep": "file gone — kept (--prune deletes it)",
    "forget": "file gone — went out, kept, no longer managed",
    "approve": "approve",
    "unchanged": "unchanged",
}


def _build(
    directory: str,
    tz: str,
    prune: bool,
    as_approved: bool,
    force: bool = False,
    as_json: bool = False,
) -> Plan:
    from autopostr.ascode import plan as plan_mod

    with signed_in() as (session, actor):
        try:
            return plan_mod.build(
                session,
                actor,
                settings(),
                Path(directory),
                default_tz=zone_for(session, actor, tz),
                prune=prune,
                as_approved=as_approved,
                force=force,
            )
        except plan_mod.PlanRejected as exc:
            _report_rejected(exc, as_json)
            raise
        finally:
            session.rollback()  # media files new to the library were uploaded to be checked


def _report_rejected(exc: Any, as_json: bool) -> None:
    """Every problem with its file and line on stderr; with --json, also as a document."""
    from autopostr.cli import output
    from autopostr.views import plan_rejected_json

    for error in exc.errors:
        output.info(str(error))
    output.emit(plan_rejected_json(exc.errors), as_json)


def _show_plan(data: dict[str, Any], verbose: bool = False) -> None:
    from autopostr.cli import output

    for item in data["items"]:
        action = item["action"]
        if action == "unchanged" and not verbose:
            continue
        where = item["file"] or item["key"]
        post = f" (post {item['post']})" if item["post"] else ""
        output.print_line(f"{MARKS[action]} {where}{post}: {WORDS[action]}")
        for change in item["fields"]:
            output.print_line(
                f"      {change['field']}: {_short(change['before'])} → {_short(change['after'])}"
            )
        if item["note"]:
            output.print_line(f"      {item['note']}")
    c = data["counts"]
    output.print_line(
        f"Plan: {c['create'] + c['republish']} to create, {c['change']} to change, "
        f"{c['delete']} to delete, {c['unchanged']} unchanged"
        + (f", {c['approve']} to approve" if c["approve"] else "")
        + (f", {c['published']} published (not changed)" if c["published"] else "")
        + (f", {c['conflict']} in conflict" if c["conflict"] else "")
        + (f", {c['keep']} without a file" if c["keep"] else "")
        + "."
    )


def _short(value: str | None, width: int = 60) -> str:
    if value is None:
        return "(none)"
    flat = value.replace("\n", "⏎")
    return repr(flat if len(flat) <= width else flat[: width - 1] + "…")


def plan(
    directory: str = DIR_ARGUMENT,
    prune: bool = PRUNE_OPTION,
    as_approved: bool = AS_APPROVED_OPTION,
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit 1 when there are changes (for CI)."
    ),
    tz: str = TZ_OPTION,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List unchanged posts too."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show what `apply DIR` would do: posts to create, change or delete, field by field.

    Every file is checked as `posts create` checks a post; all problems are listed
    with file and line. Nothing is written.

    \b
    Examples:
      autopostr plan content/
      autopostr plan content/ --exit-code --json
    """
    from autopostr.cli import output
    from autopostr.errors import ChangesPending
    from autopostr.views import plan_json

    result = _build(directory, tz, prune, as_approved, as_json=as_json)
    output.emit(plan_json(result), as_json, lambda d: _show_plan(d, verbose))
    if exit_code and result.has_changes:
        raise ChangesPending()


def apply(
    directory: str = DIR_ARGUMENT,
    yes: bool = YES_OPTION,
    prune: bool = PRUNE_OPTION,
    force: bool = typer.Option(
        False, "--force", help="Overwrite posts edited by hand since the last apply."
    ),
    as_approved: bool = AS_APPROVED_OPTION,
    tz: str = TZ_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no plan or summary."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Make the team's posts what the folder says, in one transaction: all or nothing.

    Shows the plan and asks in a terminal (--yes otherwise). A second apply of
    the same folder changes nothing. The commit id in GITHUB_SHA or CI_COMMIT_SHA
    goes into the audit log.

    \b
    Examples:
      autopostr apply content/
      autopostr apply content/ --yes --prune
    """
    from autopostr.ascode import apply as apply_mod
    from autopostr.ascode import plan as plan_mod
    from autopostr.cli import output
    from autopostr.views import applied_json, plan_json

    expected = None
    if not yes:
        # A person is asked about this plan; apply then writes exactly it, or nothing.
        shown = _build(directory, tz, prune, as_approved, force, as_json)
        expected = shown.fingerprint()
        if shown.has_changes:
            if not as_json and sys.stdin.isatty():
                _show_plan(plan_json(shown))
            confirm(f"apply {directory}", yes)
    with signed_in() as (session, actor):
        try:
            result = apply_mod.apply(
                session,
                actor,
                settings(),
                Path(directory),
                default_tz=zone_for(session, actor, tz),
                prune=prune,
                force=force,
                as_approved=as_approved,
                expected=expected,
                commit=apply_mod.commit_id(),
            )
        except plan_mod.PlanRejected as exc:
            _report_rejected(exc, as_json)
            raise
    output.emit(
        applied_json(result), as_json, None if quiet else lambda d: _applied(d, show_plan=yes)
    )


def _applied(data: dict[str, Any], show_plan: bool) -> None:
    from autopostr.cli import output

    if not data["changes"]:
        output.info("No changes: the posts are what the folder says.")
        return
    if show_plan:
        _show_plan(data)
    waiting = (
        f" ({data['pending_approval']} waiting for an owner's approval)"
        if data["pending_approval"]
        else ""
    )
    output.success(
        f"Applied: {len(data['created'])} created, {len(data['changed'])} changed, "
        f"{len(data['deleted'])} deleted, {len(data['approved'])} approved{waiting}"
    )


def export_dir(
    directory: str = typer.Argument(..., help="A new (or empty) folder to write."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no summary."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the team's posts not yet sent as a content folder (then `plan` shows no changes).

    \b
    Example:
      autopostr export-dir content/ && git -C content init
    """
    from autopostr.ascode.export import export_dir as export
    from autopostr.cli import output
    from autopostr.views import exported_json

    with signed_in() as (session, actor):
        result = export(session, actor, settings(), Path(directory))
    output.emit(
        exported_json(result),
        as_json,
        None
        if quiet
        else lambda d: output.success(
            f"Wrote {len(d['files'])} posts and {d['media']} media files to {d['dir']}"
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("apply")(apply)
    app.command("export-dir")(export_dir)
