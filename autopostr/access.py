"""Why this user cannot use a path, and the fix: for a home, database, secret or output file
owned by someone else, or not readable, writable or enterable."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

BITS = (("r", os.R_OK), ("w", os.W_OK), ("x", os.X_OK))


def _owner(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def access_problem(path: Path, need: int, what: str) -> tuple[str, str] | None:
    """Why this user lacks `need` (os.R_OK …) on an existing `path`, and the fix; None if not."""
    if os.access(path, need):
        return None
    try:
        st = path.stat()
    except OSError:
        return f"{path} {what}", "check the permissions of the folders above it"
    mode = f"mode {stat.S_IMODE(st.st_mode):o}"
    if st.st_uid != os.geteuid():
        owner = _owner(st.st_uid)
        return (
            f"{path} ({mode}, owned by {owner}) {what}",
            f"run autopostr as {owner}, or point AUTOPOSTR_HOME at a folder of yours",
        )
    bits = "".join(b for b, flag in BITS if need & flag and not os.access(path, flag))
    return f"{path} ({mode}) {what}", f"give yourself access: chmod u+{bits} {path}"


def reach_problem(path: Path) -> tuple[str, str] | None:
    """The first folder on the way to `path` that this user cannot enter, or that is a file."""
    for ancestor in reversed(path.parents):
        if not ancestor.exists():
            return None  # nothing is denied: the rest is just not there yet
        if not ancestor.is_dir():
            return f"{ancestor} is a file, not a folder", "point AUTOPOSTR_HOME at a folder"
        problem = access_problem(ancestor, os.X_OK, "cannot be entered")
        if problem is not None:
            return problem
    return None


def explain(path: Path, need: int, what: str) -> tuple[str, str] | None:
    """Why this user cannot use `path` as `need` says: a folder on the way, or the path."""
    problem = reach_problem(path)
    if problem is None and path.exists():
        problem = access_problem(path, need, what)
    return problem


def write_output(raw: str, content: str, option: str = "--output") -> None:
    """Write a file the user named; a missing folder or a path this user cannot write is
    invalid input (exit 5) that names the path, never a crash."""

    path = Path(raw).expanduser()
    try:
        path.write_text(content, encoding="utf-8")
        return
    except OSError as exc:
        reason = exc.strerror or str(exc)
    raise _cannot_write(raw, path, reason, option)


@contextmanager
def streamed_output(raw: str, option: str = "--output") -> Iterator[IO[str]]:
    """A file the user named, written as the data comes: into a hidden file beside it,
    moved over the name only when the block completes (a failed export leaves nothing
    half-written); errors as `write_output` says them."""
    import tempfile

    path = Path(raw).expanduser()
    if path.is_dir():
        raise _cannot_write(raw, path, "it is a folder", option)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(raw, path, exc.strerror or str(exc), option) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.chmod(temporary, 0o644 & ~_umask())
        try:
            os.replace(temporary, path)
        except OSError as exc:
            raise _cannot_write(raw, path, exc.strerror or str(exc), option) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _cannot_write(raw: str, path: Path, reason: str, option: str) -> Exception:
    from autopostr.errors import InvalidInput

    problem = reach_problem(path)
    if problem is None and not path.parent.exists():
        problem = (
            f"the folder {path.parent} does not exist",
            f"create it (mkdir -p {path.parent}) or write somewhere else",
        )
    if problem is None and path.is_dir():
        problem = f"{path} is a folder", f"name a file, e.g. {path / 'posts.csv'}"
    if problem is None:
        problem = explain(path, os.W_OK, "is not a file you can write") or access_problem(
            path.parent, os.W_OK | os.X_OK, "is not a folder you can write"
        )
    if problem is None:
        return InvalidInput(f"{option} {raw}: cannot write it: {reason}")
    return InvalidInput(f"{option} {raw}: cannot write it: {problem[0]}: {problem[1]}")
