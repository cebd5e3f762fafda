"""The permission matrix: every role against every mutating command, on both engines,
plus the approval workflow's transitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Cli, Team, approval_workflow, matrix_failures


@pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
def test_every_role_against_every_mutating_command(
    initialized: str, cli: Cli, tmp_path: Path, role: str
) -> None:
    team = Team(cli, tmp_path, role)
    failures = matrix_failures(cli, team, role)
    assert failures == []


def test_approval_workflow(initialized: str, cli: Cli, tmp_path: Path) -> None:
    approval_workflow(cli, Team(cli, tmp_path, "editor"))
