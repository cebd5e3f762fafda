#!/usr/bin/env bash
# The main job on the embedded SQLite default, from a fresh clone: install, init,
# add the built-in sandbox account, schedule a post, publish what is due, check health.
# Uses AUTOPOSTR_HOME if set, else a throw-away folder that is removed at the end
# (it holds an encryption key): KEEP_HOME=1 keeps it and says where it is.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# Reinstall only when the project's metadata changed since the last install: the
# install is editable, so code changes need none.
stamp=.venv/.autopostr-installed
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] || ! .venv/bin/python -c "import autopostr" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
  echo "$wanted" > "$stamp"
fi

if [ -z "${AUTOPOSTR_HOME:-}" ]; then
  AUTOPOSTR_HOME="$(mktemp -d)"
  if [ "${KEEP_HOME:-0}" = "1" ]; then
    trap 'echo "Kept the home (with its key) in $AUTOPOSTR_HOME"' EXIT
  else
    trap 'rm -rf "$AUTOPOSTR_HOME"' EXIT
  fi
fi
export AUTOPOSTR_HOME
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
