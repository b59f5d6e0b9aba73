#!/usr/bin/env bash
# The README's test command, plus the lint gate. pytest's exit code 5 (no tests collected)
# is an error here: the suite must run tests.
set -uo pipefail
pip install -e '.[test]' && python -m pytest tests -q
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"
ruff check statsmodels_me tests benchmarks
