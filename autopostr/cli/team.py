"""`autopostr team`: teams, members, invitations, settings and the audit log."""

from __future__ import annotations

from typing import Any

import typer

from autopostr.cli import options
from autopostr.cli.common import JSON_OPTION, YES_OPTION, confirm, settings, signed_in

JOIN_COMMAND = "autopostr team join"

app = typer.Typer(
    help="Teams: members, roles, invitations, approval settings, audit log.", no_args_is_help=True
)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="The team's name."), as_json: bool = JSON_OPTION
) -> None:
    """Create a team (you become its owner) and switch to it.

    \b
    Example:
      autopostr team create "Acme Social"
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.views import team_json

    with signed_in() as (session, actor):
        team = teams.create(session, actor, name)
        data = team_json(team, "owner", team.id)
    output.emit(
        data,
        as_json,
        lambda d: output.success(
            f"Created team {d['name']!r} (id {d['id']}); it is now your current team"
        ),
    )


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List your teams and your role in each; the current one is marked.

    \b
    Example:
      autopostr team list --json
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.views import team_json

    with signed_in() as (session, actor):
        rows = [
            team_json(t, r, actor.team_id) for t, r in teams.memberships(session, actor.user_id)
        ]
    output.emit(rows, as_json, _show_teams)


def _show_teams(rows: list[dict[str, Any]]) -> None:
    from autopostr.cli import output

    output.print_table(
        [{**row, "current": "*" if row["current"] else ""} for row in rows],
        [("current", ""), ("id", "ID"), ("name", "Team"), ("role", "Role")],
    )


@app.command("use")
def use(
    team: str = typer.Argument(..., help="Team id or name."), as_json: bool = JSON_OPTION
) -> None:
    """Switch your current team (remembered for your user).

    \b
    Example:
      autopostr team use "Acme Social"
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.views import team_json

    with signed_in() as (session, actor):
        found, role = teams.use(session, actor, team)
        data = team_json(found, role, found.id)
    output.emit(
        data, as_json, lambda d: output.success(f"Now working in {d['name']!r} as {d['role']}")
    )


@app.command("members")
def members(as_json: bool = JSON_OPTION) -> None:
    """List the current team's members and roles.

    \b
    Example:
      autopostr team members --json
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.views import member_json

    with signed_in() as (session, actor):
        rows = [member_json(u, r) for u, r in teams.members(session, actor)]
    output.emit(
        rows,
        as_json,
        lambda rows: output.print_table(
            rows, [("id", "ID"), ("email", "Email"), ("name", "Name"), ("role", "Role")]
        ),
    )


@app.command("invite")
def invite(
    email: str = typer.Argument(..., help="Who to invite."),
    role: str = typer.Option("editor", "--role", help="owner, editor or viewer."),
    expires_in: str = typer.Option("7d", "--expires-in", help="How long the invitation works."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Invite someone; the single-use token is printed (and e-mailed when SMTP is set up).

    \b
    Example:
      autopostr team invite ana@example.com --role editor --json
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.timeparse import parse_duration
    from autopostr.views import invitation_json

    lifetime = parse_duration(expires_in, "--expires-in")
    with signed_in() as (session, actor):
        data = invitation_json(teams.invite(session, actor, settings(), email, role, lifetime))
    output.emit(data, as_json, _show_invitation)


def _show_invitation(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_line(data["token"])
    if data["connection_url"]:
        output.print_line(data["connection_url"])
        output.info(
            "The second line is their own database URL (shown only now): they put it in "
            "AUTOPOSTR_DATABASE_URL in their environment or config file, never on a command line."
        )
    output.info(
        f"Invitation for {data['email']} as {data['role']}, valid until {data['expires_at']}"
        + (" (e-mailed)" if data["emailed"] else "")
        + f". Signed in as {data['email']}, they run `{JOIN_COMMAND}` and paste the token "
        f"above when asked (in scripts: `{JOIN_COMMAND} --token-stdin` with the token on stdin)."
    )


@app.command("join")
def join(
    token: str = typer.Argument(
        "",
        help="The invitation token; better left out (it stays in your shell history): "
        "you are asked for it.",
        show_default=False,
    ),
    token_stdin: bool = typer.Option(
        False, "--token-stdin", help="Read the invitation token from stdin (for scripts)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Join a team with an invitation token (sign in with the invited e-mail first).

    The token is asked for (hidden), or read from stdin with --token-stdin.

    \b
    Examples:
      autopostr team join
      autopostr team join --token-stdin < invitation.txt
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.cli.common import prompt_secret, read_secret_from_stdin
    from autopostr.errors import UsageError
    from autopostr.views import team_json

    if token and token_stdin:
        raise UsageError("give the token on stdin with --token-stdin or as an argument, not both")
    if token:
        output.warn(
            "a token on the command line stays in your shell history and shows in `ps`: "
            f"run `{JOIN_COMMAND}` (it asks) or `{JOIN_COMMAND} --token-stdin` next time"
        )
    elif token_stdin:
        token = read_secret_from_stdin("invitation token")
    else:
        token = prompt_secret("Invitation token", "--token-stdin")
    with signed_in() as (session, actor):
        team, role = teams.join(session, actor, token)
        data = team_json(team, role, team.id)
    output.emit(
        data,
        as_json,
        lambda d: output.success(
            f"Joined {d['name']!r} as {d['role']}; it is now your current team"
        ),
    )


@app.command("role")
def role(
    member: str = typer.Argument(..., help="Member e-mail or id."),
    new_role: str = typer.Argument(..., help="owner, editor or viewer."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a member's role (the last owner cannot be demoted).

    \b
    Example:
      autopostr team role ana@example.com owner
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.views import member_json

    with signed_in() as (session, actor):
        data = member_json(*teams.set_role(session, actor, member, new_role))
    output.emit(data, as_json, lambda d: output.success(f"{d['email']} is now {d['role']}"))


@app.command("remove")
def remove(
    member: str = typer.Argument(..., help="Member e-mail or id."),
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove a member; they lose access at once, sessions and tokens included.

    Asks first in a terminal; elsewhere it needs --yes.

    \b
    Example:
      autopostr team remove ana@example.com --yes
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.views import user_json

    with signed_in() as (session, actor):
        user, membership = teams.to_remove(session, actor, member)
        detail = (
            f"{user.email} ({membership.role}) loses access to {actor.team_name!r} at once, "
            "sessions and tokens included"
        )
        email = user.email
    confirm(f"remove {email} from the team", yes, [detail])
    with signed_in() as (session, actor):
        data = user_json(teams.remove(session, actor, member))
    output.emit(data, as_json, lambda d: output.success(f"Removed {d['email']} from the team"))


@app.command("settings")
def team_settings(
    approval: bool | None = typer.Option(
        None,
        "--approval-required/--no-approval-required",
        help="Editors' posts need an owner's approval.",
    ),
    name: str = typer.Option("", "--name", help="Rename the team."),
    approval_by: str = typer.Option(
        "",
        "--approval-by",
        help="owner, or git: a merged pull request of the content folder counts as the "
        "approval (`apply --as-approved` by an owner).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show or change the current team's settings.

    \b
    Examples:
      autopostr team settings --approval-required
      autopostr team settings --approval-by git
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.views import team_json

    with signed_in() as (session, actor):
        if approval is None and not name and not approval_by:
            team = teams.current_team(session, actor)
        else:
            team = teams.update_settings(
                session,
                actor,
                approval_required=approval,
                name=name or None,
                approval_by=approval_by or None,
            )
        data = team_json(team, actor.role or "", team.id)
    output.emit(
        data,
        as_json,
        lambda d: output.print_fields(
            [
                ("team", d["name"]),
                ("id", d["id"]),
                ("approval required", d["approval_required"]),
                ("approval by", d["approval_by"]),
            ]
        ),
    )


@app.command("audit")
def audit(
    since: str = typer.Option(
        "", "--since", help="Only the last 24h, 7d … or since a date or time (2026-12-01)."
    ),
    user: str = typer.Option("", "--user", help="Only this member (e-mail or id)."),
    action: str = typer.Option(
        "", "--action", help="Only actions starting with this, e.g. post. or team.role."
    ),
    limit: int = options.limit_option(200, "entries (the newest)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Who did what and when in the current team (owners).

    \b
    Example:
      autopostr team audit --since 7d --action post.
    """
    from autopostr import teams
    from autopostr.cli import output
    from autopostr.cli.common import zone_for
    from autopostr.models import utcnow
    from autopostr.views import audit_json

    with signed_in() as (session, actor):
        zone_name = zone_for(session, actor, "")
        start = options.since(since, zone_name, utcnow()) if since else None
        who, what = user or None, action or None
        entries = teams.audit_entries(
            session, actor, since=start, user=who, action=what, limit=limit
        )
        total = 0
        if len(entries) >= limit:
            total = teams.count_audit_entries(session, actor, since=start, user=who, action=what)
        rows = [audit_json(e, email) for e, email in entries]
    output.emit(rows, as_json, lambda rows: _show_audit(rows, zone_name))
    output.shown(options.shown(len(rows), total, "entries"))


def _show_audit(rows: list[dict[str, Any]], zone_name: str) -> None:
    from autopostr.cli import output

    output.print_table(
        [
            {
                **row,
                "at": output.local_time(row["at"], zone_name, compact=True),
                "target": f"{row['target_type']} {row['target_id']}".strip(),
            }
            for row in rows
        ],
        [
            ("at", f"When ({output.zone_label(zone_name)})"),
            ("user", "Who"),
            ("action", "Action"),
            ("target", "Target"),
        ],
        empty="No audit entries match.",
    )
