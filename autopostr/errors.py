"""One exception hierarchy, mapped to the exit codes of PRODUCT §2 in one place.

Domain code raises these; the CLI's top-level handler turns them into a single
`Error: …` line and the matching exit code. A class's docstring is its default
message, so `raise NotLoggedIn()` already teaches the fix. A platform's failure
becomes one of these by one rule, `PlatformError.as_error` (platforms/base.py).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    PERMISSION = 4
    INVALID = 5
    EXTERNAL = 6


class AutopostrError(Exception):
    """Something went wrong."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip().splitlines()[0]
        super().__init__(self.message)


class UsageError(AutopostrError):
    """The command was called with the wrong arguments: see `--help`."""

    exit_code = ExitCode.USAGE


class NotFound(AutopostrError):
    """Not found."""

    exit_code = ExitCode.NOT_FOUND


class PermissionDenied(AutopostrError):
    """Permission denied."""

    exit_code = ExitCode.PERMISSION


class NotLoggedIn(PermissionDenied):
    """You are not signed in: run `autopostr auth login` (or set AUTOPOSTR_TOKEN)."""


class InvalidInput(AutopostrError):
    """Invalid input."""

    exit_code = ExitCode.INVALID


class Conflict(InvalidInput):
    """That conflicts with what is already there."""


class LimitReached(InvalidInput):
    """The team's plan does not allow more of that: see `autopostr billing status`."""


class ConfigError(InvalidInput):
    """The configuration is invalid: run `autopostr config show` to see where each value comes from."""


class SchemaMissing(InvalidInput):
    """The database has no autopostr schema yet: run `autopostr init`."""


class SchemaBehind(InvalidInput):
    """The database schema is older than this autopostr: run `autopostr db upgrade`."""


class SchemaAhead(InvalidInput):
    """The database schema is newer than this autopostr: upgrade autopostr (`pip install -U autopostr`)."""


class EncryptionKeyError(InvalidInput):
    """The encryption key is missing or cannot decrypt stored secrets: run `autopostr doctor`."""


class KeyMissing(EncryptionKeyError):
    """A stored secret is sealed with a key this machine does not have: run `autopostr keys import`."""

    def __init__(self, message: str | None = None, key_id: str = "") -> None:
        super().__init__(message)
        self.key_id = key_id  # the key that is missing; "" when this machine has none


class DatabaseNotAccessible(PermissionDenied):
    """This user may not read or write the database: run autopostr as its owner."""

    def __init__(self, detail: str, fix: str) -> None:
        self.detail, self.fix = detail, fix
        super().__init__(f"{detail}: {fix}")


class DatabaseCorrupt(AutopostrError):
    """The database is damaged: restore a backup (`autopostr doctor` names the fix)."""

    def __init__(self, detail: str, fix: str, reason: str = "") -> None:
        self.detail, self.fix, self.reason = detail, fix, reason or detail
        super().__init__(f"{detail}: {fix}")


class ExternalServiceError(AutopostrError):
    """An external service failed."""

    exit_code = ExitCode.EXTERNAL


class DatabaseUnreachable(ExternalServiceError):
    """The database cannot be reached: check AUTOPOSTR_DATABASE_URL and that the server is running."""


class Reported(AutopostrError):
    """The command has shown what went wrong: only its exit code is left to give.

    The handler prints nothing more for these, with or without --debug: the failed
    checks, the refused destinations or the declined question are on the screen.
    """


class ChecksFailed(Reported):
    """A check failed: each failing check names its fix."""


class AttentionNeeded(Reported):
    """Some accounts need attention: they are listed with what to do."""


class ChangesPending(Reported):
    """`plan --exit-code`: the plan shown has changes to apply."""


class NothingChanged(Reported):
    """The confirmation was declined: nothing was changed."""


class PlatformsFailed(Reported):
    """A platform failed or refused a destination: each one says why."""

    exit_code = ExitCode.EXTERNAL


class PlatformCannot(Reported):
    """A platform cannot do what was asked for a destination: each one says what to do instead."""

    exit_code = ExitCode.INVALID
