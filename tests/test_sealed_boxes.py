"""Tokens only daemons can open: after `keys migrate`, secrets are X25519 sealed boxes to
the database's public key; a member without any key adds an account, the daemon (holding
the key set) publishes with it. On both engines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from autopostr.platforms.webhook import sign
from tests.fakes.http_server import Answer, ScriptedServer
from tests.helpers import Cli, Team, db_session, due_post, make_due

URL_TOKEN = "hookpathSECRET0123456789"


def stored(handle: str = "site") -> tuple[str, dict[str, Any]]:
    """The account's token column and extra fields as they are in the database."""
    from sqlalchemy import text

    with db_session() as session:
        token, extra = session.execute(
            text("SELECT access_token, extra FROM social_accounts WHERE handle = :h"),
            {"h": handle},
        ).one()
    return str(token), json.loads(extra)


def webhook(hook: ScriptedServer) -> str:
    return json.dumps(
        {"handle": "site", "url": f"{hook.url}/api/webhooks/7/{URL_TOKEN}", "secret": "s3cr3t"}
    )


def publish_once(cli: Cli, hook: ScriptedServer) -> None:
    """The owner's machine runs the daemon once: the webhook gets the post, signed."""
    hook.push(Answer(200, {"id": "r1"}))
    run = cli("daemon", "run", "--once", "--json")
    assert run.exit_code == 0, run.stderr
    [outcome] = run.json()
    assert outcome["status"] == "published", outcome
    sent = hook.received[-1]
    assert sent.path == f"/api/webhooks/7/{URL_TOKEN}"  # the sealed URL opened
    assert sent.headers["x-autopostr-signature"] == sign(
        "s3cr3t", sent.headers["x-autopostr-timestamp"], sent.body
    )


def test_migrate_reseals_every_secret_to_the_public_key_and_loses_nothing(
    initialized: str, cli: Cli, hook: ScriptedServer
) -> None:
    cli.ok("accounts", "add", "webhook", input=webhook(hook))
    key = cli.ok("keys", "status", "--json").json()["active"]
    token, extra = stored()
    assert token.startswith(f"v1.{key}.") and extra["url"].startswith(f"sealed:v1.{key}.")

    migrated = cli.ok("keys", "migrate", "--json").json()
    assert migrated["key"] == key and migrated["resealed"] == 2 and not migrated["already"]
    token, extra = stored()
    assert token.startswith(f"v2.{key}.") and extra["url"].startswith(f"sealed:v2.{key}.")
    assert URL_TOKEN not in json.dumps(extra)
    due_post(cli, "after the migration", to="webhook:site")
    publish_once(cli, hook)

    # Again: nothing changes but the boxes (fresh ephemeral keys).
    again = cli.ok("keys", "migrate", "--json").json()
    assert again["already"] and again["resealed"] == 2
    # A rotation re-seals everything to the new key's public key.
    rotated = cli.ok("keys", "rotate", "--yes", "--json").json()
    token, extra = stored()
    assert token.startswith(f"v2.{rotated['new_key']}.")
    assert extra["url"].startswith(f"sealed:v2.{rotated['new_key']}.")
    due_post(cli, "after the rotation", to="webhook:site")
    publish_once(cli, hook)


def test_a_box_opens_only_in_its_slot_and_with_its_key() -> None:
    from autopostr.errors import EncryptionKeyError, KeyMissing
    from autopostr.keys import KeySet, Slot, seal, unseal

    keys = KeySet.of([os.urandom(32)], "test")
    public = keys.public_key()
    box = seal(public, "tok", Slot.token(1, "access_token"))
    assert unseal(keys, box, Slot.token(1, "access_token")) == "tok"
    assert seal(public, "tok", Slot.token(1, "access_token")) != box  # ephemeral each time
    with pytest.raises(EncryptionKeyError):
        unseal(keys, box, Slot.token(2, "access_token"))  # copied into another row
    with pytest.raises(KeyMissing):
        unseal(KeySet.of([os.urandom(32)], "other"), box, Slot.token(1, "access_token"))
    tampered = box[:-4] + ("AAAA" if not box.endswith("AAAA") else "BBBB")
    with pytest.raises(EncryptionKeyError):
        unseal(keys, tampered, Slot.token(1, "access_token"))


def _holds_key_material(home: Path, keys: list[str]) -> list[str]:
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(k.encode() in data for k in keys) or "encryption-keys" in path.name:
                found.append(str(path))
    return found


def test_a_member_without_any_key_adds_an_account_and_the_daemon_publishes(
    initialized: str, cli: Cli, tmp_path: Path, hook: ScriptedServer
) -> None:
    cli.ok("keys", "migrate")
    team = Team(cli, tmp_path, "owner")
    cli.ok("accounts", "add", "webhook", input=webhook(hook), env=team.member)
    post = cli.ok(
        "posts",
        "create",
        "--to",
        "webhook:site",
        "--text",
        "by the member",
        "--at",
        "+1h",
        "--json",
        env=team.member,
    ).json()["id"]
    token, extra = stored()
    key = cli.ok("keys", "status", "--json").json()["active"]
    assert token.startswith(f"v2.{key}.") and extra["url"].startswith(f"sealed:v2.{key}.")

    # The member's machine holds nothing that opens a token: no key set in its home,
    # none in its environment, and it cannot open the account's credentials.
    exported = json.loads(cli.ok("keys", "export", "--yes").stdout)["keys"]
    member_home = Path(team.member["AUTOPOSTR_HOME"])
    assert _holds_key_material(member_home, exported) == []
    # What the member's commands run with: this process's environment under theirs.
    environment = {**os.environ, **team.member}
    assert not [k for k, v in environment.items() if k.startswith("AUTOPOSTR_ENCRYPTION") and v]
    assert cli("keys", "status", env=team.member).exit_code != 0
    refused = cli("accounts", "test", "webhook:site", env=team.member)
    assert refused.exit_code != 0 and "key" in refused.stderr
    doctor = {c["name"]: c for c in cli("doctor", "--json", env=team.member).json()}
    key_check = doctor["encryption key decrypts stored secrets"]
    assert key_check["status"] == "ok" and "public key" in key_check["detail"]

    make_due(int(post))
    publish_once(cli, hook)
