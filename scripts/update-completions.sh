#!/usr/bin/env bash
# Regenerate completions/ from the installed program (a test fails when they are stale).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
for shell in bash zsh fish; do
  _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION=1 "$PY" -m autopostr --show-completion "$shell" \
    > "completions/autopostr.$shell"
done
echo "completions/ updated"
