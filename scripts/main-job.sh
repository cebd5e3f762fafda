#!/usr/bin/env bash
# The main job on the embedded SQLite default, from a fresh clone: install, init,
# add the built-in sandbox account, schedule a post, publish what is due, check health.
# Uses AUTOPOSTR_HOME if set, else a throw-away folder.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
export AUTOPOSTR_HOME="${AUTOPOSTR_HOME:-$(mktemp -d)}"
ap=.venv/bin/autopostr

$ap init
$ap accounts add sandbox --handle demo
$ap posts create --to sandbox:demo --text "Hello from autopostr" --at +2s
sleep 3
$ap daemon run --once
$ap posts list
$ap doctor
echo "Published to $AUTOPOSTR_HOME/sandbox/demo.jsonl:"
cat "$AUTOPOSTR_HOME/sandbox/demo.jsonl"
