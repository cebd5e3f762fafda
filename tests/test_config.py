"""Settings: environment beats the TOML file beats the default, each with its source."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from autopostr import doctor, media
from autopostr.config import (
    KNOWN_SETTINGS,
    RENAMED_SETTINGS,
    SETTING_FAMILIES,
    Settings,
    describe,
    load_settings,
    mask_url,
)
from autopostr.daemon.runner import DaemonConfig
from autopostr.errors import ConfigError
from autopostr.queue import claims
from tests.helpers import Cli


def write_config(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_environment_beats_file_beats_default(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write_config(
        config, 'timezone = "Europe/Berlin"\ndatabase_url = "sqlite:////tmp/from-file.db"\n'
    )
    env = {
        "AUTOPOSTR_CONFIG": str(config),
        "AUTOPOSTR_HOME": str(tmp_path / "h"),
        "AUTOPOSTR_DATABASE_URL": "sqlite:////tmp/from-env.db",
    }
    settings = load_settings(env)
    assert settings.database_url == "sqlite:////tmp/from-env.db"
    assert settings.source("database_url") == "env AUTOPOSTR_DATABASE_URL"
    assert settings.get("timezone") == "Europe/Berlin"
    assert settings.source("timezone") == f"file {config}"
    assert settings.home == tmp_path / "h"


def test_default_database_lives_in_the_home(tmp_path: Path) -> None:
    settings = load_settings(
        {"AUTOPOSTR_HOME": str(tmp_path), "AUTOPOSTR_CONFIG": str(tmp_path / "none.toml")}
    )
    assert settings.database_url == f"sqlite:///{tmp_path / 'autopostr.db'}"
    assert settings.source("database_url") == "default"


def test_home_can_come_from_the_file_and_moves_the_default_database(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write_config(config, f'home = "{tmp_path / "filehome"}"\n')
    settings = load_settings({"AUTOPOSTR_CONFIG": str(config)})
    assert settings.home == tmp_path / "filehome"
    assert settings.database_url.endswith("filehome/autopostr.db")


def test_tables_flatten_to_the_environment_names(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write_config(
        config, '[x]\nclient_id = "from-file"\n[mastodon]\napi_url = "https://m.example"\n'
    )
    settings = load_settings({"AUTOPOSTR_CONFIG": str(config), "AUTOPOSTR_X_CLIENT_ID": "from-env"})
    assert settings.get("x_client_id") == "from-env"
    assert settings.get("mastodon_api_url") == "https://m.example"


def test_mask_url_hides_only_the_password() -> None:
    assert (
        mask_url("postgresql://app:hunter2@db:5432/social")
        == "postgresql://app:****@db:5432/social"
    )
    assert mask_url("postgresql://app@db/social") == "postgresql://app@db/social"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_config_show_masks_secrets_and_names_sources(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write_config(config, 'timezone = "Asia/Tokyo"\n[x]\nclient_secret = "file-secret-value"\n')
    env = {
        "AUTOPOSTR_ENCRYPTION_KEY": "c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25nISE=",
        "AUTOPOSTR_TOKEN": "apt_super-secret-token",
        "AUTOPOSTR_DATABASE_URL": "postgresql://app:hunter2@db.example:5432/social",
    }
    run = cli.ok("config", "show", "--json", env=env)
    rows = {row["name"]: row for row in run.json()}
    assert rows["timezone"]["value"] == "Asia/Tokyo"
    assert rows["timezone"]["source"] == f"file {config}"
    assert rows["max_attempts"]["source"] == "unset"  # known settings show even when unset
    assert rows["encryption_key"]["value"] == "****"
    assert rows["token"]["value"] == "****"
    assert rows["x_client_secret"]["value"] == "****"
    assert rows["database_url"]["value"] == "postgresql://app:****@db.example:5432/social"
    assert rows["database_url"]["source"] == "env AUTOPOSTR_DATABASE_URL"
    for secret in ("hunter2", "super-secret-token", "file-secret-value", "c2VjcmV0"):
        assert secret not in run.stdout and secret not in run.stderr

    table = cli.ok("config", "show", env=env)
    assert "hunter2" not in table.stdout and "Asia/Tokyo" in table.stdout


def test_config_path_prints_the_file(cli: Cli, tmp_path: Path) -> None:
    assert cli.ok("config", "path").stdout.strip() == str(tmp_path / "config.toml")
    data = cli.ok("config", "path", "--json").json()
    assert data["exists"] is False and data["config"] == str(tmp_path / "config.toml")


def test_malformed_config_file_is_one_clear_error(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path / "config.toml", "timezone = [unclosed\n")
    run = cli("doctor")
    assert run.exit_code == 5
    assert run.stderr.startswith("Error: config file ") and "not valid TOML" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert run.stdout == ""


# --- typed settings ----------------------------------------------------------


def settings_with(tmp_path: Path, **env: str) -> Settings:
    base = {"AUTOPOSTR_HOME": str(tmp_path), "AUTOPOSTR_CONFIG": str(tmp_path / "none.toml")}
    return load_settings({**base, **{f"AUTOPOSTR_{k.upper()}": v for k, v in env.items()}})


def daemon_config(settings: Settings) -> DaemonConfig:
    from autopostr.db import Database

    return DaemonConfig.from_settings(settings, Database(settings), None)


READERS: dict[str, Callable[[Settings], object]] = {
    "max_attempts": claims.max_attempts,
    "overdue_minutes": doctor.overdue_minutes,
    "media_max_bytes": media.max_bytes,
    "lease_seconds": daemon_config,
    "heartbeat_seconds": daemon_config,
    "poll_seconds": daemon_config,
    "grace_seconds": daemon_config,
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_attempts", "lots"),
        ("max_attempts", "0"),
        ("overdue_minutes", "soon"),
        ("overdue_minutes", "0"),
        ("media_max_bytes", "lots"),
        ("media_max_bytes", "0KB"),
        ("lease_seconds", "0"),
        ("heartbeat_seconds", "-1"),
        ("poll_seconds", "often"),
        ("grace_seconds", "inf"),
    ],
)
def test_a_bad_number_names_the_setting_and_where_it_came_from(
    tmp_path: Path, name: str, value: str
) -> None:
    settings = settings_with(tmp_path, **{name: value})
    with pytest.raises(ConfigError) as refused:
        READERS[name](settings)
    message = refused.value.message
    variable = f"AUTOPOSTR_{name.upper()}"
    assert message.startswith(f"{variable} must be ")
    assert message.endswith(f", not {value!r} (from env {variable})")


def test_numbers_sizes_and_durations_read_as_their_units_say(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path,
        max_attempts="3",
        overdue_minutes=" 45 ",
        media_max_bytes="1.5GiB",
        lease_seconds="2m",
        heartbeat_seconds="0.5",
    )
    assert claims.max_attempts(settings) == 3
    assert doctor.overdue_minutes(settings) == 45
    assert media.max_bytes(settings) == int(1.5 * 1024**3)
    assert (
        settings_with(tmp_path, media_max_bytes="500MB").size("media_max_bytes", 1) == 500_000_000
    )
    config = daemon_config(settings)
    assert (config.lease, config.heartbeat, config.poll, config.grace) == (120.0, 0.5, 0.5, 30.0)
    unset = settings_with(tmp_path)
    assert claims.max_attempts(unset) == claims.DEFAULT_MAX_ATTEMPTS
    assert media.max_bytes(unset) == media.DEFAULT_MAX_BYTES


# --- every setting read is declared --------------------------------------------

PACKAGE = Path(__file__).resolve().parents[1] / "autopostr"
READS = {"get", "source", "number", "integer", "seconds", "flag", "size"}
ON_SETTINGS = re.compile(r"(^|\.)_?settings(\(\))?$")


def _setting_name(arg: ast.expr) -> str | None:
    """A literal name, an f-string as a pattern (`{x}` becomes `*`), else None."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "*" for part in arg.values
        )
    return None


def settings_reads(sources: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """Every setting name `sources` read, with where; and the reads whose name cannot be
    told. A function that passes one of its parameters on as the name (such as
    `number_setting(name, …)`) makes its callers' arguments reads too."""
    trees = {path: ast.parse(text) for path, text in sources.items()}
    forwarders: dict[str, int] = {}  # function name -> position of its name parameter
    direct: list[tuple[str, ast.Call, ast.expr]] = []
    for path, tree in trees.items():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            params = [a.arg for a in function.args.args if a.arg not in ("self", "cls")]
            for call in ast.walk(function):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in READS
                    and call.args
                ):
                    continue
                receiver = ast.unparse(call.func.value)
                in_settings = path.endswith("config.py") and receiver == "self"
                if not (ON_SETTINGS.search(receiver) or in_settings):
                    continue
                arg = call.args[0]
                if isinstance(arg, ast.Name) and arg.id in params:
                    if not in_settings:  # Settings' own readers are where reads end
                        forwarders[function.name] = params.index(arg.id)
                    continue
                direct.append((path, call, arg))
    found: dict[str, list[str]] = {}
    unknown: list[str] = []
    for path, call, arg in direct:
        name = _setting_name(arg)
        where = f"{path}:{call.lineno}"
        if name is None:
            unknown.append(f"{where}: {ast.unparse(call)}")
        else:
            found.setdefault(name, []).append(where)
    for path, tree in trees.items():
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in forwarders and len(call.args) > forwarders[called]:
                arg = call.args[forwarders[called]]
                name = _setting_name(arg)
                if name is None:
                    unknown.append(f"{path}:{call.lineno}: {ast.unparse(call)}")
                else:
                    found.setdefault(name, []).append(f"{path}:{call.lineno}")
    return found, unknown


def undeclared(names: dict[str, list[str]]) -> list[str]:
    families = {re.sub(r"<[a-z]+>", "*", family) for family in SETTING_FAMILIES}
    return sorted(
        f"{name} ({', '.join(where)})"
        for name, where in names.items()
        if (name not in families if "*" in name else describe(name) is None)
    )


def package_sources() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE.parent)): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_every_setting_the_code_reads_is_declared() -> None:
    found, unknown = settings_reads(package_sources())
    assert not unknown, f"reads whose setting cannot be told: {unknown}"
    assert not undeclared(found), (
        f"settings read but not declared in KNOWN_SETTINGS: {undeclared(found)}"
    )
    # The scan sees what it should: literals, typed readers, f-string families, helpers.
    assert {"smtp_port", "smtp_user", "lease_seconds", "home", "*_api_url"} <= set(found)
    assert len(found) > 40
    # And nothing is declared that no code reads (a family covers `x_client_id`; an old
    # name is read through the one that replaced it).
    families = [re.compile(re.sub(r"<[a-z]+>", "[a-z0-9_]+", f) + "$") for f in SETTING_FAMILIES]
    unread = [
        name
        for name in KNOWN_SETTINGS
        if name not in found
        and name not in RENAMED_SETTINGS
        and not any(family.match(name) for family in families)
    ]
    assert not unread, f"declared in KNOWN_SETTINGS but read nowhere: {unread}"


def test_the_scan_catches_an_undeclared_name_however_it_is_read() -> None:
    source = """
def speed(settings, name):
    return settings.number(name, 1.0)

def run(self, settings):
    settings.get("smtp_host")
    self.settings.flag("smpt_starttls")
    speed(settings, "warp_factor")
    settings.get(f"{self.name}_api_url")
    settings.get(f"{self.name}_api_key")
    settings.get(self.which)
"""
    found, unknown = settings_reads({"autopostr/example.py": source})
    assert [line.split(" ")[0] for line in undeclared(found)] == [
        "*_api_key",
        "smpt_starttls",
        "warp_factor",
    ]
    assert unknown == ["autopostr/example.py:11: settings.get(self.which)"]


def test_reading_an_undeclared_setting_fails_loudly(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, smpt_host="mail.example")
    with pytest.raises(AssertionError, match="'smpt_host' is read but not declared"):
        settings.get("smpt_host")
    with pytest.raises(AssertionError, match="not declared"):
        settings.number("poll_secs", 1.0)
    assert settings.get("x_api_url") is None  # a family: any platform's name
    assert settings.get("someplugin_client_id") is None


def test_a_plugin_declares_its_own_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autopostr import config

    monkeypatch.setattr(config, "KNOWN_SETTINGS", dict(config.KNOWN_SETTINGS))
    settings = settings_with(tmp_path, someplugin_region="eu")
    config.declare("someplugin_region", "where someplugin posts (default us)")
    assert settings.get("someplugin_region") == "eu"


def test_config_show_lists_every_declared_setting_and_family(cli: Cli) -> None:
    rows = {row["name"]: row for row in cli.ok("config", "show", "--json").json()}
    for name in [*KNOWN_SETTINGS, *SETTING_FAMILIES]:
        assert name in rows, f"config show lacks {name}"
        assert rows[name]["description"] == (KNOWN_SETTINGS | SETTING_FAMILIES)[name]
    assert rows["smtp_password"]["source"] == "unset"
    assert rows["<platform>_api_url"]["source"] == "unset"
    shown = cli.ok(
        "config", "show", "--json", env={"AUTOPOSTR_SMTP_PASSWORD": "hunter2-smtp"}
    ).json()
    (password,) = [row for row in shown if row["name"] == "smtp_password"]
    assert password["value"] == "****" and password["source"] == "env AUTOPOSTR_SMTP_PASSWORD"
