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
ruff_status=$?
[ "$ruff_status" -eq 0 ] || exit "$ruff_status"
# The documentation: every example is executed while the pages are built; no warning allowed.
# Only the docs extra's requirements are installed: the package is already built and installed.
docs_requirements=$(python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['docs']))")
# shellcheck disable=SC2086
pip install $docs_requirements && python -m sphinx -W -b html docs docs/_build/html
