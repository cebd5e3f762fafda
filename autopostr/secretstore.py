"""Where autopostr keeps its own secrets on this machine: keyring, else 0600 files.

On a headless server keyring's chosen backend is the `fail` one, so every
secret falls back to a file readable only by its owner, inside a 0700 folder
in the home. `AUTOPOSTR_KEYRING=off` forces the files (for machines whose
keyring prompts).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from autopostr.errors import PermissionDenied

SERVICE = "autopostr"


class HomeNotWritable(PermissionDenied):
    """The autopostr home is not writable: point AUTOPOSTR_HOME at a folder you can write."""


def cannot(verb: str, path: Path, exc: OSError) -> HomeNotWritable:
    """`cannot read PATH: why`, naming what on the way denies it and the fix."""
    from autopostr.access import explain

    if verb == "read":
        problem = explain(path, os.R_OK, "is not a file you can read")
    else:  # written through a temporary file, or deleted: both need the folder
        problem = explain(path.parent, os.W_OK | os.X_OK, "is not a folder you can write")
    if problem is None:
        return HomeNotWritable(f"cannot {verb} {path}: {exc.strerror or exc}")
    return HomeNotWritable(f"cannot {verb} {path}: {problem[0]}: {problem[1]}")


@dataclass(frozen=True)
class Stored:
    where: str  # "keyring" or the file path
    new_file: bool  # True the first time a file had to be used: the caller says so once


def keyring_usable(setting: str | None) -> bool:
    """True when keyring has a backend that really stores secrets."""
    if (setting or "").strip().lower() in {"off", "false", "0", "file", "no"}:
        return False
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return False
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return False
    return getattr(backend, "priority", 1) > 0


def keyring_backend_name(setting: str | None) -> str:
    if (setting or "").strip().lower() in {"off", "false", "0", "file", "no"}:
        return "disabled by AUTOPOSTR_KEYRING"
    import keyring

    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and any missing parent 0700 whatever the umask; a folder that is
    already there keeps its mode (it may not be ours: `doctor` reports a loose one)."""
    missing = []
    level = path
    while not level.exists() and level != level.parent:
        missing.append(level)
        level = level.parent
    try:
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=0o700)
            except FileExistsError:
                continue  # another process made it a moment ago
            os.chmod(folder, 0o700)
        if not path.is_dir():
            raise NotADirectoryError(20, "Not a directory")
    except OSError as exc:
        raise HomeNotWritable(
            f"cannot create {path}: {exc.strerror or exc}. Point AUTOPOSTR_HOME at a writable folder"
        ) from None
    return path


def create_private_file(path: Path) -> None:
    """Create an empty file 0600 whatever the umask, unless it is already there."""
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise HomeNotWritable(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def write_private_file(path: Path, content: str) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly world-readable)."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # a folder we cannot write keeps no temp file anyway
            tmp.unlink(missing_ok=True)
        raise cannot("write", path, exc) from None


class SecretStore:
    """Named secrets for one home."""

    def __init__(self, home: Path, keyring_setting: str | None = None):
        self.home = home
        self._keyring_setting = keyring_setting
        self.folder = home / "secrets"

    @functools.cached_property
    def use_keyring(self) -> bool:
        """Asked only when a secret is not in its file: finding keyring's backends loads
        a dozen packages (D-Bus, cryptography), which a daemon with a key file never needs."""
        return keyring_usable(self._keyring_setting)

    def _path(self, name: str) -> Path:
        return self.folder / re.sub(r"[^A-Za-z0-9_.-]", "_", name)

    def _account(self, name: str) -> str:
        return f"{self.home}:{name}"

    def get(self, name: str) -> tuple[str | None, str]:
        """The secret and where it came from ("keyring" or a file path).

        A file is written only when the keyring could not take the secret, and a write
        to the keyring removes it: where there is a file, it holds the newest value."""
        path = self._path(name)
        try:
            return path.read_text(encoding="utf-8").strip(), str(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise cannot("read", path, exc) from None
        if self.use_keyring:
            import keyring
            from keyring.errors import KeyringError

            try:
                value = keyring.get_password(SERVICE, self._account(name))
            except KeyringError:
                value = None
            if value is not None:
                return value, "keyring"
        return None, ""

    def set(self, name: str, value: str) -> Stored:
        if self.use_keyring:
            import keyring
            from keyring.errors import KeyringError

            try:
                keyring.set_password(SERVICE, self._account(name), value)
                self._path(name).unlink(missing_ok=True)
                return Stored("keyring", new_file=False)
            except KeyringError:
                pass
        path = self._path(name)
        existed = path.exists()
        write_private_file(path, value + "\n")
        return Stored(str(path), new_file=not existed)

    def delete(self, name: str) -> None:
        if self.use_keyring:
            import keyring
            from keyring.errors import KeyringError

            try:
                keyring.delete_password(SERVICE, self._account(name))
            except KeyringError:
                pass
        path = self._path(name)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise cannot("delete", path, exc) from None
