#!/usr/bin/env bash
# Regenerate docs/walkthrough.md from the installed program (a test fails when it is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m tests.walkthrough
