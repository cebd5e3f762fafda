"""`autopostr init` on an empty database: home, schema, key, solo user signed in."""

from __future__ import annotations

import stat
from pathlib import Path

from autopostr.db import SCHEMA_HEAD
from tests.helpers import Cli, key_file


def test_init_creates_everything_and_signs_in_the_solo_user(
    engine: str, cli: Cli, isolated_env: Path
) -> None:
    run = cli.ok("init", "--json")
    data = run.json()
    assert data["schema_after"] == SCHEMA_HEAD
    assert data["key_created"] is True
    assert data["user_created"].endswith("@localhost")
    assert data["signed_in_as"] == data["user_created"]

    whoami = cli.ok("auth", "whoami", "--json").json()
    assert whoami["user"]["email"] == data["user_created"]
    assert whoami["team"]["role"] == "owner"
    assert set(whoami["user"]) >= {"id", "email", "name"}
    assert isinstance(whoami["user"]["id"], str)

    assert stat.S_IMODE(key_file(isolated_env).stat().st_mode) == 0o600


def test_init_twice_changes_nothing(engine: str, cli: Cli) -> None:
    first = cli.ok("init", "--json").json()
    second = cli.ok("init", "--json").json()
    assert second["schema_before"] == second["schema_after"] == SCHEMA_HEAD
    assert second["key_created"] is False
    assert second["user_created"] is None
    assert first["key_source"] == second["key_source"]
    assert cli.ok("auth", "whoami", "--json").json()["user"]["email"] == first["user_created"]
