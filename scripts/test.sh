#!/usr/bin/env bash
# Install everything the tests need (system packages included) and run the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k config -x
set -euo pipefail
source "$(dirname "$0")/setup.sh" test
cd "$ROOT"
# The type checker first (src/ and the test fakes, [tool.mypy] in pyproject.toml): a few seconds.
"$VENV/bin/python" -m mypy
# Most tests wait on real-time audio rather than compute (each command is forked from a server that has the
# modules imported: tests/zygote.py), so six workers on two cores; loadgroup keeps the tests that share one
# replayed run on one worker.
exec "$VENV/bin/python" -m pytest -n "${TFY_LIVE_TEST_WORKERS:-6}" --dist loadgroup "$@"
