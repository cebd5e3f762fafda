"""Settings: environment beats the TOML file beats the default, each with its source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from autopostr import doctor, media, publishing
from autopostr.config import Settings, load_settings, mask_url
from autopostr.daemon.runner import DaemonConfig
from autopostr.errors import ConfigError
from tests.conftest import Cli


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
    "max_attempts": publishing.max_attempts,
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
    assert publishing.max_attempts(settings) == 3
    assert doctor.overdue_minutes(settings) == 45
    assert media.max_bytes(settings) == int(1.5 * 1024**3)
    assert (
        settings_with(tmp_path, media_max_bytes="500MB").size("media_max_bytes", 1) == 500_000_000
    )
    config = daemon_config(settings)
    assert (config.lease, config.heartbeat, config.poll, config.grace) == (120.0, 0.5, 0.5, 30.0)
    unset = settings_with(tmp_path)
    assert publishing.max_attempts(unset) == publishing.DEFAULT_MAX_ATTEMPTS
    assert media.max_bytes(unset) == media.DEFAULT_MAX_BYTES
