"""Exit codes come from one rule (PRODUCT §2): the error classes decide, and a platform's
failure becomes one of them through `PlatformError.as_error` only."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from autopostr.errors import ExternalServiceError, InvalidInput
from autopostr.platforms.base import (
    AuthExpired,
    NotSupported,
    PermanentError,
    PlatformError,
    TransientError,
)
from tests.helpers import Cli

PACKAGE = Path(__file__).resolve().parent.parent / "autopostr"
PLATFORM_ERRORS = {
    "PlatformError",
    "PermanentError",
    "TransientError",
    "AuthExpired",
    "NotSupported",
}


@pytest.mark.parametrize(
    ("failure", "given", "error", "message"),
    [
        (TransientError("Bluesky is down"), None, ExternalServiceError, "Bluesky is down"),
        (PermanentError("token revoked"), None, ExternalServiceError, "token revoked"),
        (AuthExpired("expired"), "stdin", ExternalServiceError, "expired"),
        (NotSupported("no delete"), None, InvalidInput, "no delete"),
        (PermanentError("bad app password"), "stdin", InvalidInput, "stdin: bad app password"),
        (PermanentError("no page named Acme"), "", InvalidInput, "no page named Acme"),
    ],
)
def test_one_rule_turns_a_platform_failure_into_an_exit_code(
    failure: PlatformError, given: str | None, error: type, message: str
) -> None:
    mapped = failure.as_error(given=given)
    assert type(mapped) is error and mapped.message == message


def test_an_account_the_platform_cannot_check_is_exit_5_not_a_failed_service(
    initialized: str, cli: Cli
) -> None:
    # Nothing failed: a Slack incoming webhook has no call that tests it without posting.
    slack = {"handle": "team", "url": "https://hooks.slack.test/services/T/B/X", "format": "slack"}
    cli.ok("accounts", "add", "webhook", input=json.dumps(slack))
    run = cli("accounts", "test", "webhook:team")
    assert run.exit_code == 5
    assert run.stderr == "Error: a Slack incoming webhook cannot be tested without posting\n"


def test_a_shown_failure_keeps_its_exit_code_and_adds_nothing_with_debug(
    initialized: str, cli: Cli
) -> None:
    cli.ok("accounts", "add", "sandbox", "--handle", "demo")
    post = cli.ok("posts", "create", "--to", "sandbox:demo", "--text", "x", "--json").json()
    fail = {"AUTOPOSTR_SANDBOX_FAIL_RATE": "1", "AUTOPOSTR_MAX_ATTEMPTS": "1"}
    for args in (["posts", "publish", post["id"]], ["--debug", "posts", "retry", post["id"]]):
        run = cli(*args, env=fail)
        assert run.exit_code == 6 and run.exception is None
        assert "Error:" not in run.stderr and "Traceback" not in run.stderr


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))]


def test_no_command_exits_with_a_hand_written_code() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "Exit"
        and (node.args or node.keywords)
    ]
    assert found == [], "raise an autopostr.errors class instead (its class is the exit code)"


def test_no_private_typer_module_is_imported() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("typer._"))
        or (isinstance(node, ast.Import) and any(a.name.startswith("typer._") for a in node.names))
        or (isinstance(node, ast.Attribute) and node.attr.startswith("_") and _is_typer(node.value))
    ]
    assert found == []


def _is_typer(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "typer"


def test_platform_failures_become_errors_only_through_as_error() -> None:
    """An `except PlatformError` that raises one of our errors must raise `exc.as_error()`."""
    found = []
    for path, tree in _modules():
        for handler in ast.walk(tree):
            if not isinstance(handler, ast.ExceptHandler) or handler.type is None:
                continue
            caught = {n.id for n in ast.walk(handler.type) if isinstance(n, ast.Name)}
            if not caught & PLATFORM_ERRORS:
                continue
            for node in ast.walk(handler):
                if (
                    isinstance(node, ast.Raise)
                    and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name)
                    and node.exc.func.id.endswith(("Error", "Input", "Conflict"))
                    and node.exc.func.id not in PLATFORM_ERRORS
                ):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []
