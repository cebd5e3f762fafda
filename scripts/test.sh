#!/usr/bin/env bash
# Install autopostr with its test tools into .venv and run the whole suite:
# ruff (lint + format), mypy, then pytest on SQLite and PostgreSQL.
# PostgreSQL must answer on 127.0.0.1:5432 (override: AUTOPOSTR_TEST_POSTGRES_URL);
# a local cluster is started when it is down.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

if ! .venv/bin/python - <<'PY' 2>/dev/null
import os, psycopg
psycopg.connect(os.environ.get("AUTOPOSTR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"), connect_timeout=3).close()
PY
then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down; starting the local cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    sleep 2
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The import contract (pyproject.toml [tool.importlinter]): no cycles, layers respected.
.venv/bin/lint-imports --no-logo --no-cache

# The suite runs in worker processes (most tests wait on subprocesses, sockets and the
# database, so 3 workers keep 2 cores busy; AUTOPOSTR_TEST_WORKERS=0 runs in one process),
# a test file per worker; tests marked `serial` restart the shared PostgreSQL server and
# run alone afterwards. Extra arguments go to both runs.
# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
workers="${AUTOPOSTR_TEST_WORKERS:-3}"
parallel=()
if [ "$workers" != "0" ]; then
  parallel=(-n "$workers" --dist loadfile)
fi
set +e
.venv/bin/python -m pytest -p no:cacheprovider "${parallel[@]}" -m "not serial" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
set +e
.venv/bin/python -m pytest -p no:cacheprovider -m serial "$@"
status=$?
set -e
# A selection with no serial test in it is fine: the parallel run above had tests.
if [ "$status" -eq 5 ]; then
  status=0
fi
exit "$status"
