"""Platform name -> adapter class, for built-ins and third-party plugins alike.

Built-ins are "module:Class" strings imported on first use, so listing names
(and starting the CLI) imports no adapter. Plugins come from the
`autopostr.platforms` entry-point group and are loaded once, on the first call
into this module; one that fails to import, or does not give a concrete
Platform subclass, is skipped with a warning (logged, and kept for
`plugin_warnings()` so `doctor` can show it) instead of breaking every command.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from importlib.metadata import entry_points

from autopostr.config import Settings
from autopostr.errors import InvalidInput
from autopostr.platforms.base import Platform

ENTRY_POINT_GROUP = "autopostr.platforms"

# One line per built-in adapter.
BUILTINS: dict[str, str] = {
    "sandbox": "autopostr.platforms.sandbox:SandboxPlatform",
    "webhook": "autopostr.platforms.webhook:WebhookPlatform",
    "x": "autopostr.platforms.x:XPlatform",
    "linkedin": "autopostr.platforms.linkedin:LinkedInPlatform",
    "facebook": "autopostr.platforms.facebook:FacebookPlatform",
    "instagram": "autopostr.platforms.instagram:InstagramPlatform",
    "mastodon": "autopostr.platforms.mastodon:MastodonPlatform",
    "bluesky": "autopostr.platforms.bluesky:BlueskyPlatform",
}

log = logging.getLogger("autopostr.platforms")

_lock = threading.RLock()
_registry: dict[str, type[Platform] | str] = dict(BUILTINS)
_warnings: list[str] = []
_plugins_loaded = False


def platform_names() -> list[str]:
    """Every known platform name, sorted; imports no built-in adapter."""
    with _lock:
        _load_plugins()
        return sorted(_registry)


def get_platform_class(name: str) -> type[Platform]:
    """The adapter class for `name`; unknown names list the known ones."""
    key = name.strip().lower()
    with _lock:
        _load_plugins()
        target = _registry.get(key)
        if target is None:
            known = ", ".join(sorted(_registry)) or "none"
            raise InvalidInput(f"unknown platform {name!r}: known platforms are {known}")
        if isinstance(target, str):
            target = _check_class(_import_path(target), target)
            _registry[key] = target
        return target


def get_platform(name: str, settings: Settings) -> Platform:
    """A ready adapter instance for `name`."""
    return get_platform_class(name)(settings)


def plugin_warnings() -> list[str]:
    """Why plugins were skipped, for `doctor` and the CLI to show."""
    with _lock:
        _load_plugins()
        return list(_warnings)


def register(name: str, cls_or_path: type[Platform] | str) -> None:
    """Add or replace a platform: a Platform subclass or a lazy "module:Class" path."""
    if isinstance(cls_or_path, str):
        if ":" not in cls_or_path:
            raise ValueError(f"expected 'module:Class', got {cls_or_path!r}")
    else:
        _check_class(cls_or_path, repr(cls_or_path))
    with _lock:
        _registry[name.strip().lower()] = cls_or_path


def reset() -> None:
    """Back to the built-ins only, plugins not yet loaded; for tests."""
    global _plugins_loaded
    with _lock:
        _registry.clear()
        _registry.update(BUILTINS)
        _warnings.clear()
        _plugins_loaded = False


def _import_path(path: str) -> object:
    module_name, _, attr = path.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _check_class(obj: object, origin: str) -> type[Platform]:
    if not (isinstance(obj, type) and issubclass(obj, Platform)):
        raise TypeError(f"{origin} is not a Platform subclass")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise TypeError(f"{origin} does not implement {missing}")
    return obj


def _warn(message: str) -> None:
    log.warning("%s", message)
    _warnings.append(message)


def _load_plugins() -> None:
    """Import every entry-point plugin once; a broken one becomes a warning."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    try:
        eps = list(entry_points(group=ENTRY_POINT_GROUP))
    except Exception as exc:  # a corrupt installed distribution must not break the CLI
        _warn(f"cannot read {ENTRY_POINT_GROUP} entry points: {exc}")
        return
    seen: set[str] = set()
    for ep in eps:
        key = ep.name.strip().lower()
        origin = f"plugin {ep.name!r} ({ep.value})"
        if key in seen:
            continue  # the same distribution found twice on sys.path
        seen.add(key)
        if key in BUILTINS:
            _warn(f"{origin} skipped: {key!r} is a built-in platform")
            continue
        try:
            loaded = ep.load()
        except (Exception, SystemExit) as exc:  # whatever its import does, we carry on
            _warn(f"{origin} skipped: it failed to import: {type(exc).__name__}: {exc}")
            continue
        try:
            cls = _check_class(loaded, origin)
        except TypeError as exc:
            _warn(f"{exc}; skipped")
            continue
        _registry[key] = cls
