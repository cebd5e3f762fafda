"""The options every command group shares, and one parser per kind of value.

A command takes its limit, quiet flag, states, times, dates and formats from here, so
`-n/--limit`, `-q/--quiet` and `--since` mean the same everywhere, and an unknown value
is refused the same way everywhere: exit 5 naming the valid ones. New command groups
reuse these instead of spelling their own.

    limit: int = options.limit_option(100, "posts")
    statuses = options.many_of(status, PostState, "--status")
    start = options.since(text, zone_name, utcnow())

`conventions(command)` runs once over the whole command tree when the app is built: it
gives every option a metavar people read (`ACCOUNT`, `WHEN`, `N`) instead of Python's
types, and value completion to the options and arguments that name accounts, states,
formats, platforms and zones. Nothing here imports more than Typer at load time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

import typer

# -- shared options ---------------------------------------------------------------


def limit_option(default: int, what: str = "items") -> Any:
    """`-n/--limit N`: every list takes it and says when it cut the list (`shown`)."""
    return typer.Option(
        default, "-n", "--limit", min=1, metavar="N", help=f"Show at most N {what}."
    )


def quiet_option() -> Any:
    """`-q/--quiet`: only errors, for cron; data a command was asked for still goes out.
    It takes effect as soon as it is parsed, so the command body need not pass it on."""
    return typer.Option(
        False,
        "-q",
        "--quiet",
        callback=_set_quiet,
        help="Print only errors (for cron: no mail when all went well).",
    )


def _set_quiet(value: bool) -> bool:
    if value:
        from autopostr.cli import output

        output.set_quiet(True)
    return value


def shown(count: int, total: int, what: str) -> str | None:
    """`100 of 120,000 posts shown`: the line a list prints (on stderr) when it was cut."""
    if total <= count:
        return None
    return f"{count:,} of {total:,} {what} shown; -n/--limit N shows more"


# -- values -------------------------------------------------------------------------


def one_of(value: str, valid: Iterable[str], field: str) -> str:
    """A value from a closed set, case-insensitive; otherwise exit 5 listing the set."""
    from autopostr.errors import InvalidInput

    names = [str(v) for v in valid]
    wanted = value.strip().lower()
    for name in names:
        if name.lower() == wanted:
            return name
    raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(names)}")


def many_of(values: Iterable[str], valid: Iterable[str], field: str) -> tuple[str, ...]:
    """Repeated (or comma-separated) values from a closed set: `--status a --status b,c`."""
    names = [str(v) for v in valid]
    chosen: list[str] = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                name = one_of(part, names, field)
                if name not in chosen:
                    chosen.append(name)
    return tuple(chosen)


def moment(text: str, zone_name: str, now: datetime, field: str) -> datetime:
    """A point in time (`WHEN`): ISO 8601, a local date and time, +2h, or a bare date
    (its local midnight), so `--from 2026-12-01` works wherever a time does."""
    from autopostr.timeparse import localize, parse_when, zone

    day_only = _as_date(text, field)
    if day_only is not None:
        return localize(datetime.combine(day_only, datetime.min.time()), zone(zone_name), field)
    return parse_when(text, zone_name, now, field)


def since(text: str, zone_name: str, now: datetime, field: str = "--since") -> datetime:
    """`--since`: a duration back from now (30m, 2h, 7d) or a moment as `moment` reads it."""
    from autopostr.errors import InvalidInput
    from autopostr.timeparse import parse_duration

    try:
        return now - parse_duration(text, field)
    except InvalidInput:
        pass
    try:
        return moment(text, zone_name, now, field)
    except InvalidInput:
        raise InvalidInput(
            f"{field}: {text!r} is neither a duration (30m, 2h, 7d) nor a date or time "
            "(2026-12-01, 2026-12-01T09:00, '2026-12-01 09:00')"
        ) from None


def day(text: str, zone_name: str, now: datetime, field: str) -> date:
    """A calendar day: YYYY-MM-DD, or any time `moment` reads (its local date)."""
    from autopostr.errors import InvalidInput
    from autopostr.timeparse import zone

    found = _as_date(text, field)
    if found is not None:
        return found
    try:
        return moment(text, zone_name, now, field).astimezone(zone(zone_name)).date()
    except InvalidInput:
        raise InvalidInput(
            f"{field}: {text!r} is not a date or a time; use YYYY-MM-DD (e.g. 2030-01-07) "
            "or a time such as 2030-01-07T09:00"
        ) from None


def looks_like_time(text: str) -> bool:
    """A value that is a date or time, never an account name (`x:acme`, `12`)."""
    return bool(re.match(r"\s*(\d{4}-\d{2}-\d{2}|\+\d)", text))


def _as_date(text: str, field: str) -> date | None:
    if not re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text):
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        from autopostr.errors import InvalidInput

        raise InvalidInput(
            f"{field}: {text!r} is not a date; use YYYY-MM-DD, e.g. 2030-01-07"
        ) from None


# -- metavars and completion ---------------------------------------------------------

# What the value of an option is, by its long name, as help shows it.
METAVARS: dict[str, str] = {
    "--to": "ACCOUNT",
    "--account": "ACCOUNT",
    "--add-to": "ACCOUNT",
    "--remove-from": "ACCOUNT",
    "--at": "WHEN",
    "--from": "WHEN",
    "--until": "WHEN",
    "--since": "WHEN",
    "--before": "WHEN",
    "--after": "WHEN",
    "--tz": "ZONE",
    "--limit": "N",
    "--count": "N",
    "--status": "STATE",
    "--event": "EVENT",
    "--format": "FORMAT",
    "--date-format": "STRFTIME",
    "--media": "MEDIA",
    "--add-media": "MEDIA",
    "--remove-media": "MEDIA_ID",
    "--variant": "ACCOUNT=TEXT",
    "--text-file": "FILE",
    "--output": "FILE",
    "--handle": "HANDLE",
    "--post": "POST_ID",
    "--comment": "TEXT",
    "--first-comment": "TEXT",
    "--text": "TEXT",
    "--alt": "TEXT",
    "--email": "EMAIL",
    "--user": "EMAIL",
    "--model": "MODEL",
    "--metrics": "HOST:PORT",
    "--listen": "HOST:PORT",
}

FORMATS = ("csv", "json")


def _completer(
    values: Callable[[Any], Iterable[str]],
) -> Callable[[Any, Any, str], list[str]]:
    def complete(ctx: Any, _param: Any, incomplete: str) -> list[str]:
        try:
            found = list(values(ctx))
        except Exception:  # completion never fails loudly: it offers nothing
            return []
        return [v for v in found if v.lower().startswith(incomplete.lower())]

    return complete


def _post_states(_ctx: Any) -> Iterable[str]:
    from autopostr.states import PostState

    return list(PostState)


def _log_events(_ctx: Any) -> Iterable[str]:
    from autopostr.states import LogEvent

    return list(LogEvent)


def _formats(_ctx: Any) -> Iterable[str]:
    return FORMATS


def _platforms(_ctx: Any) -> Iterable[str]:
    from autopostr.platforms.registry import BUILTINS

    return sorted(BUILTINS)


def _zones(_ctx: Any) -> Iterable[str]:
    from zoneinfo import available_timezones

    return sorted(available_timezones())


def _accounts(_ctx: Any) -> Iterable[str]:
    return account_names()


def account_names() -> list[str]:
    """`platform:handle` of every account in the database, read without SQLAlchemy so a
    completion keystroke stays fast (~50 ms). Nothing on any failure."""
    from autopostr.config import load_settings

    settings = load_settings()
    url = str(settings.get("database_url") or "")
    query = "SELECT platform, handle FROM social_accounts ORDER BY platform, handle"
    rows: list[tuple[Any, ...]]
    if url.startswith("sqlite:///"):
        import sqlite3
        from pathlib import Path

        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            rows = conn.execute(query).fetchall()
    elif url.startswith(("postgresql", "postgres")):
        import psycopg

        dsn = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url)
        with psycopg.connect(dsn, connect_timeout=2) as pg:
            rows = pg.execute(query).fetchall()
    else:
        return []
    return [f"{platform}:{handle}" for platform, handle in rows]


COMPLETERS: dict[str, Callable[[Any], Iterable[str]]] = {
    "--to": _accounts,
    "--account": _accounts,
    "--add-to": _accounts,
    "--remove-from": _accounts,
    "--event": _log_events,
    "--format": _formats,
    "--tz": _zones,
}
# Arguments, by their parameter name.
ARGUMENT_COMPLETERS: dict[str, Callable[[Any], Iterable[str]]] = {
    "platform": _platforms,
    "account": _accounts,
}


def _no_type(ctx: Any = None) -> None:
    return None


def conventions(command: Any, path: str = "autopostr") -> None:
    """Metavars and completion for every option of every command under `command`.

    An option that set its own metavar or completion keeps it; `--status` of a posts
    command completes post states (other groups give theirs explicitly)."""
    for param in getattr(command, "params", []):
        kind = getattr(param, "param_type_name", "")
        if kind == "option":
            long = next((o for o in param.opts if o.startswith("--")), "")
            if param.is_flag or param.count:
                continue
            if param.metavar is None:
                param.metavar = METAVARS.get(long, long.lstrip("-").upper().replace("-", "_"))
            completer = COMPLETERS.get(long)
            if long == "--status" and " posts" in path:
                completer = _post_states
            if completer is not None and param._custom_shell_complete is None:
                param._custom_shell_complete = _completer(completer)
        elif kind == "argument":
            name = param.name or ""
            if param.metavar is None:
                param.metavar = name.upper()
            # The name says what it is (POST_ID); Python's type (<int>) says nothing more.
            param.display_type_rich = _no_type
            completer = ARGUMENT_COMPLETERS.get(name)
            if completer is not None and param._custom_shell_complete is None:
                param._custom_shell_complete = _completer(completer)
    for name, sub in (getattr(command, "commands", None) or {}).items():
        conventions(sub, f"{path} {name}")
