"""Encryption keys: AES-GCM ciphertexts, where keys come from, `keys status` and `keys rotate`."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import keyring
import pytest

from autopostr.errors import EncryptionKeyError
from autopostr.keys import KeySet, key_id, load_keyset
from tests.helpers import Cli, KeyringSecrets, database, key_file, run_autopostr

# --- helpers ---------------------------------------------------------------


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def kid_of(text: str) -> str:
    return key_id(base64.b64decode(text))


def current_keyset() -> KeySet:
    from autopostr.config import load_settings

    keyset = load_keyset(load_settings())
    assert keyset is not None
    return keyset


def context(column: str, row_id: int) -> str:
    return f"social_accounts.{column}:{row_id}"


def add_accounts(keyset: KeySet, tokens: dict[str, tuple[str, str | None]]) -> dict[int, tuple]:
    """SocialAccount rows in the solo user's team, tokens sealed for their own row.

    `tokens` maps handle -> (access token, refresh token); returns id -> the same pair.
    """
    from sqlmodel import select

    from autopostr.models import SocialAccount, Team

    added: dict[int, tuple] = {}
    with database().session() as s:
        team = s.exec(select(Team).where(Team.personal == True)).first()  # noqa: E712
        assert team is not None and team.id is not None
        for handle, (access, refresh) in tokens.items():
            account = SocialAccount(team_id=team.id, platform="sandbox", handle=handle)
            s.add(account)
            s.flush()
            assert account.id is not None
            account.access_token = keyset.encrypt(access, context("access_token", account.id))
            if refresh is not None:
                account.refresh_token = keyset.encrypt(
                    refresh, context("refresh_token", account.id)
                )
            s.add(account)
            added[account.id] = (access, refresh)
    return added


def stored_ciphertexts() -> dict[int, tuple[str | None, str | None]]:
    from sqlmodel import select

    from autopostr.models import SocialAccount

    with database().session() as s:
        rows = s.exec(select(SocialAccount)).all()
        return {a.id: (a.access_token, a.refresh_token) for a in rows if a.id is not None}


def set_ciphertext(row_id: int, column: str, value: str) -> None:
    from autopostr.models import SocialAccount

    with database().session() as s:
        account = s.get(SocialAccount, row_id)
        assert account is not None
        setattr(account, column, value)
        s.add(account)


def assert_decrypts(keyset: KeySet, expected: dict[int, tuple], kid: str | None = None) -> None:
    stored = stored_ciphertexts()
    assert set(stored) == set(expected)
    for row_id, plain in expected.items():
        for column, ciphertext, plaintext in zip(
            ("access_token", "refresh_token"), stored[row_id], plain, strict=True
        ):
            if plaintext is None:
                assert ciphertext is None
                continue
            assert ciphertext is not None
            assert keyset.decrypt(ciphertext, context(column, row_id)) == plaintext
            if kid is not None:
                assert ciphertext.startswith(f"v1.{kid}.")


def doctor_checks(cli: Cli) -> dict[str, dict]:
    run = cli("doctor", "--json")
    return {c["name"]: {**c, "exit_code": run.exit_code} for c in run.json()}


KEY_CHECK = "encryption key decrypts stored secrets"


def assert_one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def has_schema() -> bool:
    from sqlalchemy import inspect

    db = database()
    if not db.exists():
        return False
    with db.engine.connect() as conn:
        return bool(inspect(conn).get_table_names())


# --- KeySet ----------------------------------------------------------------


def test_round_trip_and_format() -> None:
    keyset = KeySet.of([os.urandom(32)], "test")
    ciphertext = keyset.encrypt("tökén-123", "social_accounts.access_token:1")
    assert ciphertext.startswith(f"v1.{keyset.active}.")
    assert "tökén" not in ciphertext
    assert keyset.decrypt(ciphertext, "social_accounts.access_token:1") == "tökén-123"
    assert keyset.decrypt(keyset.encrypt("", "c"), "c") == ""


def test_same_plaintext_encrypts_differently_each_time() -> None:
    keyset = KeySet.of([os.urandom(32)], "test")
    first = keyset.encrypt("secret", "ctx")
    second = keyset.encrypt("secret", "ctx")
    assert first != second
    assert keyset.decrypt(first, "ctx") == keyset.decrypt(second, "ctx") == "secret"


@pytest.mark.parametrize(
    "other_context",
    [
        "social_accounts.access_token:2",  # another row
        "social_accounts.refresh_token:1",  # another column
        "posts.access_token:1",  # another table
    ],
)
def test_ciphertext_moved_to_another_row_or_column_fails(other_context: str) -> None:
    keyset = KeySet.of([os.urandom(32)], "test")
    ciphertext = keyset.encrypt("secret", "social_accounts.access_token:1")
    with pytest.raises(EncryptionKeyError):
        keyset.decrypt(ciphertext, other_context)


def _tampered(ciphertext: str) -> list[str]:
    prefix, _, blob = ciphertext.rpartition(".")
    flipped = blob[:10] + ("A" if blob[10] != "A" else "B") + blob[11:]
    return [
        f"{prefix}.{flipped}",  # one character changed
        ciphertext[:-1],  # truncated by one character
        ciphertext[:-2],
        ciphertext[:-3],
        ciphertext + "A",  # one character added
        f"{prefix}.",  # empty body
        f"{prefix}.abcd",  # too short to hold a nonce and tag
        f"{prefix}.!!!!",  # not base64 at all
        "not a ciphertext",
        f"v2.{blob}",
        f"v9.{prefix.split('.')[1]}.{blob}",  # unknown format version
    ]


def test_tampered_ciphertext_fails_with_encryption_key_error() -> None:
    keyset = KeySet.of([os.urandom(32)], "test")
    ciphertext = keyset.encrypt("secret token", "ctx")
    for bad in _tampered(ciphertext):
        with pytest.raises(EncryptionKeyError):
            keyset.decrypt(bad, "ctx")


def test_unknown_key_id_fails_naming_the_key_id() -> None:
    sealer = KeySet.of([os.urandom(32)], "old")
    other = KeySet.of([os.urandom(32)], "env AUTOPOSTR_ENCRYPTION_KEY")
    ciphertext = sealer.encrypt("secret", "ctx")
    with pytest.raises(EncryptionKeyError) as info:
        other.decrypt(ciphertext, "ctx")
    assert sealer.active in str(info.value)
    assert "env AUTOPOSTR_ENCRYPTION_KEY" in str(info.value)


def test_a_keyset_with_old_keys_decrypts_them_and_seals_with_the_new_one() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = KeySet.of([old], "test").encrypt("secret", "ctx")
    both = KeySet.of([new, old], "test")
    assert both.active == key_id(new)
    assert both.decrypt(before, "ctx") == "secret"
    assert both.encrypt("secret", "ctx").startswith(f"v1.{key_id(new)}.")


def test_key_file_json_round_trip_keeps_order_and_active() -> None:
    old, new = os.urandom(32), os.urandom(32)
    keyset = KeySet.of([old, new], "file")
    keyset.active = key_id(new)
    again = KeySet.from_json(keyset.to_json(), "file")
    assert again.active == key_id(new)
    assert set(again.keys) == {key_id(old), key_id(new)}
    # A hand-written file with a bare base64 key is accepted too.
    bare = KeySet.from_json(base64.b64encode(old).decode() + "\n", "file")
    assert bare.active == key_id(old)


# --- where keys come from --------------------------------------------------


def test_env_key_wins_and_init_creates_no_key_file(
    engine: str, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = new_key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", key)
    # A systemd credential is there too: the environment still wins.
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "autopostr-encryption-key").write_text(new_key_text())
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))

    run = cli.ok("init", "--json")
    data = run.json()
    assert data["key_created"] is False
    assert data["key_source"] == "env AUTOPOSTR_ENCRYPTION_KEY"
    assert not key_file(isolated_env).exists()
    assert "Back it up" not in run.stderr
    assert current_keyset().active == kid_of(key)
    assert doctor_checks(cli)[KEY_CHECK]["status"] == "ok"


def test_env_new_comma_old_new_is_active_and_old_still_decrypts(
    engine: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = new_key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", old)
    cli.ok("init")
    accounts = add_accounts(current_keyset(), {"acme": ("a-token", "r-token")})

    new = new_key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", f"{new}, {old}")
    keyset = current_keyset()
    assert keyset.active == kid_of(new)
    assert set(keyset.keys) == {kid_of(new), kid_of(old)}
    assert_decrypts(keyset, accounts, kid=kid_of(old))
    assert keyset.encrypt("x", "ctx").startswith(f"v1.{kid_of(new)}.")
    checks = doctor_checks(cli)
    assert checks[KEY_CHECK]["status"] == "ok"
    assert checks[KEY_CHECK]["exit_code"] == 0


def test_systemd_credential_is_used_and_beats_the_key_file(
    engine: str, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = new_key_text()
    creds = tmp_path / "creds"
    creds.mkdir()
    credential = creds / "autopostr-encryption-key"
    credential.write_text(key + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))

    data = cli.ok("init", "--json").json()
    assert data["key_created"] is False
    assert data["key_source"] == f"systemd credential {credential}"
    assert not key_file(isolated_env).exists()
    keyset = current_keyset()
    assert keyset.active == kid_of(key)
    assert keyset.source.startswith("systemd credential")
    assert cli.ok("keys", "status", "--json").json()["active"] == kid_of(key)
    cli.ok("doctor")

    # A key file that also exists is not consulted while the credential is there.
    key_file(isolated_env).parent.mkdir(parents=True, exist_ok=True)
    key_file(isolated_env).write_text(new_key_text())
    assert current_keyset().active == kid_of(key)
    # A credentials folder without our credential falls through to the key file.
    credential.unlink()
    assert current_keyset().source == str(key_file(isolated_env))


def test_init_without_a_key_creates_a_private_key_file_and_warns_once(
    engine: str, cli: Cli, isolated_env: Path
) -> None:
    run = cli.ok("init")
    path = key_file(isolated_env)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert run.stderr.count("Back it up") == 1
    assert str(path) in run.stderr
    assert "Back it up" not in run.stdout

    data = json.loads(path.read_text())
    keyset = current_keyset()
    assert data["active"] == keyset.active
    assert keyset.source == str(path)
    assert [kid_of(k) for k in data["keys"]] == [keyset.active]

    again = cli.ok("init")
    assert "Back it up" not in again.stderr
    assert "Warning" not in again.stderr
    assert current_keyset().active == keyset.active
    assert path.read_text() == json.dumps(data) + "\n"


def test_keyring_backend_gets_the_key_and_no_file_is_written(
    engine: str, cli: Cli, isolated_env: Path, memory_keyring: KeyringSecrets
) -> None:
    run = cli.ok("init", "--json")
    data = run.json()
    assert data["key_created"] is True
    assert data["key_source"] == "keyring"
    assert not key_file(isolated_env).exists()
    assert not any((isolated_env / "secrets").glob("*"))  # the session token went there too
    assert "Back it up" not in run.stderr
    keyset = current_keyset()
    assert keyset.source == "keyring"
    in_keyring = [
        json.loads(v)
        for (service, _), v in memory_keyring.secrets.items()
        if service == "autopostr" and v.startswith("{")
    ]
    assert [k["active"] for k in in_keyring] == [keyset.active]

    checks = doctor_checks(cli)
    assert checks[KEY_CHECK]["status"] == "ok"
    assert checks["keyring backend"]["status"] == "ok"
    assert checks[KEY_CHECK]["exit_code"] == 0

    # Rotation keeps the key in the keyring.
    accounts = add_accounts(keyset, {"acme": ("a", "r")})
    result = cli.ok("keys", "rotate", "--yes", "--json").json()
    assert result["source"] == "keyring"
    assert not key_file(isolated_env).exists()
    rotated = current_keyset()
    assert rotated.active == result["new_key"] != keyset.active
    assert list(rotated.keys) == [result["new_key"]]
    assert_decrypts(rotated, accounts, kid=result["new_key"])


def test_no_keyring_backend_falls_back_to_the_file_with_keyring_auto(
    engine: str, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setenv("AUTOPOSTR_KEYRING", "auto")
    try:
        run = cli.ok("init")
        assert key_file(isolated_env).exists()
        assert run.stderr.count("Back it up") == 1
        assert current_keyset().source == str(key_file(isolated_env))
        checks = doctor_checks(cli)
        assert checks["keyring backend"]["status"] == "warn"
        assert checks[KEY_CHECK]["status"] == "ok"
        assert checks[KEY_CHECK]["exit_code"] == 0
    finally:
        keyring.set_keyring(previous)


# --- corrupt and wrong keys ------------------------------------------------


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("not base64!!", "not valid base64"),
        (base64.b64encode(b"0123456789abcdef").decode(), "16 bytes"),
        (base64.b64encode(os.urandom(48)).decode(), "48 bytes"),
    ],
    ids=["not-base64", "16-bytes", "48-bytes"],
)
def test_corrupt_env_key_init_fails_and_writes_nothing(
    engine: str,
    cli: Cli,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    says: str,
) -> None:
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", key)
    run = cli("init")
    assert run.exit_code == 5, run
    assert run.exception is None
    line = assert_one_error_line(run.stderr)
    assert says in line
    assert "AUTOPOSTR_ENCRYPTION_KEY" in line
    assert key not in run.stderr + run.stdout
    assert run.stdout == ""
    assert not isolated_env.exists()
    assert not has_schema()

    checks = doctor_checks(cli)
    assert checks[KEY_CHECK]["status"] == "fail"
    assert says in checks[KEY_CHECK]["detail"]
    assert "AUTOPOSTR_ENCRYPTION_KEY" in checks[KEY_CHECK]["fix"]
    assert checks[KEY_CHECK]["exit_code"] == 1


def test_corrupt_key_error_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    run = run_autopostr("init", env={"AUTOPOSTR_ENCRYPTION_KEY": "%%%"})
    assert run.returncode == 5
    assert_one_error_line(run.stderr)
    assert run.stdout == ""


def test_corrupt_key_in_the_key_file_is_reported(engine: str, cli: Cli, isolated_env: Path) -> None:
    cli.ok("init")
    key_file(isolated_env).write_text('{"active": "x", "keys": ["AAAA"]}\n')
    run = cli("keys", "status")
    assert run.exit_code == 5
    assert str(key_file(isolated_env)) in assert_one_error_line(run.stderr)
    checks = doctor_checks(cli)
    assert checks[KEY_CHECK]["status"] == "fail"
    assert checks[KEY_CHECK]["exit_code"] == 1


def test_wrong_env_key_after_init_fails_doctor_with_a_fix(
    initialized: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = current_keyset().active
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", new_key_text())
    run = cli("doctor")
    assert run.exit_code != 0
    checks = doctor_checks(cli)
    key = checks[KEY_CHECK]
    assert key["status"] == "fail"
    assert original in key["detail"]  # names the key the database needs
    assert key["fix"]
    assert "AUTOPOSTR_ENCRYPTION_KEY" in key["fix"]
    assert key["exit_code"] == 1
    # init does not paper over it either.
    init = cli("init")
    assert init.exit_code == 5
    assert original in assert_one_error_line(init.stderr)


def test_init_with_a_lost_key_file_does_not_replace_the_key(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    saved = key_file(isolated_env).read_text()
    key_file(isolated_env).unlink()
    run = cli("init")
    assert run.exit_code == 5
    line = assert_one_error_line(run.stderr)
    assert json.loads(saved)["active"] in line
    assert not key_file(isolated_env).exists()
    # Restoring the backup brings everything back, once only its owner can read it.
    key_file(isolated_env).write_text(saved)
    key_file(isolated_env).chmod(0o644)
    loose = cli("doctor")
    assert loose.exit_code == 1
    assert f"chmod 600 {key_file(isolated_env)}" in loose.stdout
    key_file(isolated_env).chmod(0o600)
    cli.ok("doctor")


# --- keys status -----------------------------------------------------------


def test_keys_status_shows_id_and_source_never_the_key(
    initialized: str, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = cli.ok("keys", "status", "--json").json()
    file_keys = json.loads(key_file(isolated_env).read_text())
    assert data["active"] == file_keys["active"]
    assert data["source"] == str(key_file(isolated_env))
    assert data["keys"] == [file_keys["active"]]
    text = cli.ok("keys", "status")
    for material in file_keys["keys"]:
        assert material not in repr(data)
        assert material not in text.stdout + text.stderr

    new, old = new_key_text(), new_key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", f"{new},{old}")
    run = cli.ok("keys", "status", "--json")
    data = run.json()
    assert data["active"] == kid_of(new)
    assert sorted(data["keys"]) == sorted([kid_of(new), kid_of(old)])
    assert data["source"] == "env AUTOPOSTR_ENCRYPTION_KEY"
    assert new not in run.stdout + run.stderr
    assert old not in run.stdout + run.stderr


def test_keys_status_without_any_key_says_how_to_get_one(cli: Cli) -> None:
    run = cli("keys", "status")
    assert run.exit_code == 5
    line = assert_one_error_line(run.stderr)
    assert "autopostr init" in line


# --- keys rotate -----------------------------------------------------------

TOKENS: dict[str, tuple[str, str | None]] = {
    "acme": ("access-acme-1", "refresh-acme-1"),
    "beta": ("access-beta-2", None),
    "gamma": ("access-gamma-3", "refresh-gamma-3"),
}


def test_rotate_reencrypts_every_token_with_a_new_file_key(
    initialized: str, cli: Cli, isolated_env: Path
) -> None:
    old = current_keyset()
    accounts = add_accounts(old, TOKENS)
    before = stored_ciphertexts()

    run = cli.ok("keys", "rotate", "--yes", "--json")
    result = run.json()
    assert result["old_keys"] == [old.active]
    assert result["new_key"] != old.active
    assert result["reencrypted"] == 5
    assert result["env_instructions"] is False

    new = current_keyset()
    assert new.active == result["new_key"]
    assert list(new.keys) == [new.active]  # the old key is gone
    file_keys = json.loads(key_file(isolated_env).read_text())
    assert file_keys["active"] == new.active
    assert [kid_of(k) for k in file_keys["keys"]] == [new.active]
    assert stat.S_IMODE(key_file(isolated_env).stat().st_mode) == 0o600
    for material in file_keys["keys"]:
        assert material not in run.stdout + run.stderr

    assert_decrypts(new, accounts, kid=new.active)
    after = stored_ciphertexts()
    for row_id in accounts:
        assert after[row_id][0] != before[row_id][0]
    with pytest.raises(EncryptionKeyError):
        old.decrypt(after[next(iter(accounts))][0] or "", "x")
    cli.ok("doctor")

    # And again: rotation is repeatable.
    second = cli.ok("keys", "rotate", "--yes", "--json").json()
    assert second["old_keys"] == [new.active]
    assert_decrypts(current_keyset(), accounts, kid=second["new_key"])
    cli.ok("doctor")


def test_rotate_with_env_key_needs_the_new_key_on_stdin(
    engine: str, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_text = new_key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", old_text)
    cli.ok("init")
    old = current_keyset()
    accounts = add_accounts(old, TOKENS)
    before = stored_ciphertexts()

    run = cli("keys", "rotate")
    assert run.exit_code == 5
    line = assert_one_error_line(run.stderr)
    assert "--new-key-stdin" in line
    assert stored_ciphertexts() == before
    assert not key_file(isolated_env).exists()
    cli.ok("doctor")

    bad = cli("keys", "rotate", "--yes", "--new-key-stdin", input="too-short\n")
    assert bad.exit_code == 5
    assert_one_error_line(bad.stderr)
    assert stored_ciphertexts() == before

    new_text = new_key_text()
    run = cli.ok("keys", "rotate", "--yes", "--new-key-stdin", "--json", input=new_text + "\n")
    result = run.json()
    assert result["new_key"] == kid_of(new_text)
    assert result["old_keys"] == [kid_of(old_text)]
    assert result["reencrypted"] == 5
    assert result["env_instructions"] is True
    assert new_text not in run.stdout + run.stderr
    assert old_text not in run.stdout + run.stderr
    assert not key_file(isolated_env).exists()

    # The old key alone no longer opens anything.
    doctor = cli("doctor")
    assert doctor.exit_code == 1
    assert doctor_checks(cli)[KEY_CHECK]["status"] == "fail"

    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", new_text)
    assert_decrypts(current_keyset(), accounts, kid=kid_of(new_text))
    cli.ok("doctor")

    # Text output tells the user to update the variable.
    newer = new_key_text()
    text = cli.ok("keys", "rotate", "--yes", "--new-key-stdin", input=newer + "\n")
    assert "AUTOPOSTR_ENCRYPTION_KEY" in text.stderr
    assert newer not in text.stdout + text.stderr


def test_rotate_with_env_new_comma_old_finishes_the_migration(
    engine: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_text = new_key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", old_text)
    cli.ok("init")
    accounts = add_accounts(current_keyset(), TOKENS)

    new_text = new_key_text()
    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", f"{new_text},{old_text}")
    result = cli.ok("keys", "rotate", "--yes", "--new-key-stdin", "--json", input=new_text).json()
    assert result["new_key"] == kid_of(new_text)

    monkeypatch.setenv("AUTOPOSTR_ENCRYPTION_KEY", new_text)
    assert_decrypts(current_keyset(), accounts, kid=kid_of(new_text))
    cli.ok("doctor")


def test_rotate_with_a_systemd_credential_needs_the_new_key_on_stdin(
    engine: str, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    old_text = new_key_text()
    (creds / "autopostr-encryption-key").write_text(old_text)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cli.ok("init")
    accounts = add_accounts(current_keyset(), TOKENS)
    before = stored_ciphertexts()

    # A key generated here could not be saved into the credential: refused.
    run = cli("keys", "rotate")
    assert run.exit_code == 5
    assert "--new-key-stdin" in assert_one_error_line(run.stderr)
    assert stored_ciphertexts() == before
    cli.ok("doctor")

    new_text = new_key_text()
    result = cli.ok("keys", "rotate", "--yes", "--new-key-stdin", "--json", input=new_text).json()
    assert result["env_instructions"] is True
    assert not key_file(isolated_env).exists()
    (creds / "autopostr-encryption-key").write_text(new_text)
    assert_decrypts(current_keyset(), accounts, kid=kid_of(new_text))
    cli.ok("doctor")


@pytest.mark.parametrize("corruption", ["copied", "tampered", "garbage"])
def test_rotate_is_all_or_nothing(
    initialized: str, cli: Cli, isolated_env: Path, corruption: str
) -> None:
    old = current_keyset()
    accounts = add_accounts(old, TOKENS)
    ids = sorted(accounts)
    # The last value rotation reaches is the bad one, so every other row was
    # already re-encrypted inside the transaction when it fails.
    last = ids[-1]
    good = stored_ciphertexts()
    if corruption == "copied":
        bad = good[ids[0]][1]  # another row's refresh token
    elif corruption == "tampered":
        bad = (good[last][1] or "")[:-4] + "AAAA"
    else:
        bad = "plaintext-refresh-token"
    assert bad is not None
    set_ciphertext(last, "refresh_token", bad)
    before = stored_ciphertexts()

    run = cli("keys", "rotate", "--yes", "--json")
    assert run.exit_code == 5, run
    assert run.stdout == ""
    line = assert_one_error_line(run.stderr)
    assert f"social_accounts.refresh_token:{last}" in line

    assert stored_ciphertexts() == before
    file_keys = json.loads(key_file(isolated_env).read_text())
    assert file_keys["active"] == old.active
    assert old.active in [kid_of(k) for k in file_keys["keys"]]
    after = current_keyset()
    assert after.active == old.active
    # Repair the bad value: everything still opens with the keys on disk, then
    # rotation goes through.
    set_ciphertext(last, "refresh_token", good[last][1] or "")
    assert_decrypts(after, accounts, kid=old.active)
    cli.ok("doctor")
    result = cli.ok("keys", "rotate", "--yes", "--json").json()
    assert_decrypts(current_keyset(), accounts, kid=result["new_key"])
    assert list(current_keyset().keys) == [result["new_key"]]


def test_rotate_before_init_says_what_to_run(engine: str, cli: Cli) -> None:
    run = cli("keys", "rotate")
    assert run.exit_code in (4, 5)
    assert "autopostr init" in assert_one_error_line(run.stderr)


# --- what counts as a secret ----------------------------------------------


@pytest.mark.parametrize(
    "name", ["api_key", "client_secret", "user_token", "app_password", "access_jwt", "secret"]
)
def test_one_rule_decides_what_is_secret_for_settings_and_account_fields(name: str) -> None:
    from autopostr.config import mask
    from autopostr.keys import is_secret_extra

    assert mask(name, "value") == "****"
    assert is_secret_extra(name, "sandbox")


@pytest.mark.parametrize("name", ["page_id", "format", "token_kind", "instance", "timezone"])
def test_names_that_say_no_secret_stay_readable(name: str) -> None:
    from autopostr.config import mask
    from autopostr.keys import is_secret_extra

    assert mask(name, "value") == "value"
    assert not is_secret_extra(name, "sandbox")


def test_a_platform_declares_the_fields_whose_names_do_not_say_so() -> None:
    from autopostr.keys import is_secret_extra

    assert is_secret_extra("url", "webhook") and not is_secret_extra("url", "sandbox")


def test_a_sealed_value_is_bound_to_its_table_column_and_row() -> None:
    from autopostr.keys import Slot, seal, seal_extra, unseal, unseal_extra

    keyset = KeySet.of([os.urandom(32)], "test")
    # The associated data of what databases already hold: it must never change.
    assert str(Slot.token(12, "access_token")) == "social_accounts.access_token:12"
    assert str(Slot.extra(12, "url")) == "social_accounts.extra.url:12"
    token = seal(keyset, "tok", Slot.token(12, "access_token"))
    assert keyset.decrypt(token, "social_accounts.access_token:12") == "tok"
    assert unseal(keyset, token, Slot.token(12, "access_token")) == "tok"
    with pytest.raises(EncryptionKeyError, match="copied from another row"):
        unseal(keyset, token, Slot.token(13, "access_token"))
    url = seal_extra(keyset, 12, "url", "https://hooks.example/T0k3n")
    assert url.startswith(f"sealed:v1.{keyset.active}.") and "T0k3n" not in url
    assert unseal_extra(keyset, 12, "url", url) == "https://hooks.example/T0k3n"
    with pytest.raises(EncryptionKeyError):
        unseal_extra(keyset, 12, "secret", url)
