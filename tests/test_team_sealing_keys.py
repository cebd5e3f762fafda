"""A team of a shared PostgreSQL with a sealing key of its own (`keys migrate --team`):
its accounts' secrets are sealed to the team's public key, members seal to it without
any key, and only the daemons given that key (`keys export --team`) publish for it; the
daemons that hold the database's key alone leave its posts to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.http_server import Answer, ScriptedServer
from tests.helpers import Cli, Daemons, Team, db_session, due_post, wait_until


def webhook(hook: ScriptedServer, handle: str) -> str:
    return json.dumps({"handle": handle, "url": f"{hook.url}/hooks/{handle}", "secret": "s3cr3t"})


def stored_token(handle: str) -> str:
    from sqlalchemy import text

    with db_session() as session:
        return str(
            session.execute(
                text("SELECT access_token FROM social_accounts WHERE handle = :h"), {"h": handle}
            ).scalar_one()
        )


def destination_of(post_id: str) -> tuple[str, int]:
    from sqlalchemy import text

    with db_session() as session:
        status, claims = session.execute(
            text(
                "SELECT d.status, (SELECT count(*) FROM publish_logs l WHERE "
                "l.destination_id = d.id AND l.event = 'claimed') FROM post_destinations d "
                "WHERE d.post_id = :p"
            ),
            {"p": int(post_id)},
        ).one()
    return str(status), int(claims)


def home_with(cli: Cli, tmp_path: Path, name: str, exported: str) -> dict[str, str]:
    env = {"AUTOPOSTR_HOME": str(tmp_path / name), "AUTOPOSTR_KEYRING": "off"}
    cli.ok("keys", "import", input=exported, env=env)
    return env


def test_only_the_daemons_holding_a_teams_own_key_publish_for_it(
    initialized: str, cli: Cli, tmp_path: Path, daemons: Daemons, hook: ScriptedServer
) -> None:
    if initialized != "postgresql":
        pytest.skip("a team's own key is for a database that teams share")
    cli.ok("keys", "migrate")
    database_keys = cli.ok("keys", "export", "--yes").stdout
    cli.ok("accounts", "add", "sandbox", "--handle", "solo")
    solo_post = due_post(cli, "for the personal team", to="sandbox:solo")
    team = Team(cli, tmp_path, "owner")  # the solo user's team "Acme", now the current one
    cli.ok("accounts", "add", "webhook", input=webhook(hook, "site"))
    database_key = stored_token("site").split(".")[1]

    moved = cli.ok("keys", "migrate", "--team", "Acme", "--json").json()
    assert moved["team"] == "Acme" and moved["previous_key"] is None
    assert moved["resealed"] == 2  # the webhook's token (its secret), and its URL in `extra`
    team_key = moved["key"]
    assert stored_token("site").startswith(f"v2.{team_key}.") and team_key != database_key
    # A member seals a new account to the team's key, holding no key at all.
    cli.ok("accounts", "add", "webhook", input=webhook(hook, "news"), env=team.member)
    assert stored_token("news").startswith(f"v2.{team_key}.")
    acme_post = due_post(cli, "for Acme", to="webhook:site")
    hook.push(Answer(200, {"id": "r1"}))

    # A daemon host with the database's key alone publishes for the personal team and
    # never claims Acme's post, which it could not open.
    database_only = home_with(cli, tmp_path, "database-host", database_keys)
    first = daemons.start(**database_only)
    wait_until(lambda: destination_of(solo_post)[0] == "published", 30, "the personal post")
    assert destination_of(acme_post) == ("pending", 0)
    code, err = daemons.stop(first)
    assert code == 0 and "leaving team(s)" in err
    # Nor does a cron job's `daemon run --once` there.
    once = cli("daemon", "run", "--once", "--json", env=database_only)
    assert once.exit_code == 0 and once.json() == [], once.stderr
    assert destination_of(acme_post) == ("pending", 0)

    # Acme's daemon host, given Acme's key alone, publishes it: claimed once, not delayed.
    team_export = cli.ok("keys", "export", "--team", "Acme", "--yes").stdout
    assert json.loads(team_export)["team"]["name"] == "Acme"
    acme_only = home_with(cli, tmp_path, "acme-host", team_export)
    assert cli.ok("keys", "status", "--json", env=acme_only).json()["keys"] == [team_key]
    checks = {c["name"]: c for c in cli("doctor", "--json", env=acme_only).json()}
    key_check = checks["encryption key decrypts stored secrets"]
    assert key_check["status"] == "ok" and "team(s) Acme" in key_check["detail"], key_check
    daemons.start(**acme_only)
    wait_until(lambda: destination_of(acme_post)[0] == "published", 30, "Acme's post")
    assert destination_of(acme_post) == ("published", 1)
    assert [r.path for r in hook.received] == ["/hooks/site"]  # its sealed URL opened there

    # Imported beside the database's key, a team's key leaves the active key as it was.
    before = cli.ok("keys", "status", "--json", env=database_only).json()["active"]
    added = cli.ok("keys", "import", "--json", input=team_export, env=database_only).json()
    assert added["added"] == [team_key] and added["active"] == before


def test_a_teams_key_replaced_and_the_database_key_rotated_leave_every_secret_readable(
    initialized: str, cli: Cli, tmp_path: Path, hook: ScriptedServer
) -> None:
    if initialized != "postgresql":
        pytest.skip("a team's own key is for a database that teams share")
    cli.ok("keys", "migrate")
    Team(cli, tmp_path, "editor")
    cli.ok("accounts", "add", "webhook", input=webhook(hook, "site"))
    first = cli.ok("keys", "migrate", "--team", "Acme", "--json").json()
    second = cli.ok("keys", "migrate", "--team", "Acme", "--json").json()
    assert second["previous_key"] == first["key"] and second["key"] != first["key"]
    assert stored_token("site").startswith(f"v2.{second['key']}.")
    # Rotating the database's key re-seals what is sealed to it, not the team's secrets.
    rotated = cli.ok("keys", "rotate", "--yes", "--json").json()
    assert rotated["new_key"] != second["key"]
    assert stored_token("site").startswith(f"v2.{second['key']}.")
    due_post(cli, "after both", to="webhook:site")
    hook.push(Answer(200, {"id": "r1"}))
    run = cli("daemon", "run", "--once", "--json")
    assert run.exit_code == 0, run.stderr
    assert [o["status"] for o in run.json()] == ["published"]


def test_wrong_team_names_and_sqlite_are_refused_with_the_reason(
    initialized: str, cli: Cli
) -> None:
    if initialized != "postgresql":
        refused = cli("keys", "migrate", "--team", "Acme")
        assert refused.exit_code != 0 and "PostgreSQL" in refused.stderr
        return
    missing = cli("keys", "migrate", "--team", "Nope")
    assert missing.exit_code != 0 and "team 'Nope' not found" in missing.stderr
    no_key = cli("keys", "export", "--team", "1", "--yes")
    assert no_key.exit_code != 0 and "has no key of its own" in no_key.stderr
    assert "keys migrate --team 1" in no_key.stderr
