#!/usr/bin/env bash
# Create one virtual environment per Python peer so that the peers and
# statsmodels_me never share (or fight over) numpy/scipy builds.
#
# Usage: benchmarks/setup_peers.sh [venv_root]
#   venv_root defaults to $SME_BENCH_VENVS, else bench-venvs next to the repository
#   (the default of run.py's --venv-root).
# R peers (lme4, glmmTMB, ordinal, nlme) come from Debian:
#   apt-get install r-cran-lme4 r-cran-glmmtmb r-cran-ordinal r-cran-nlme
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${1:-${SME_BENCH_VENVS:-$(dirname "$(dirname "$here")")/bench-venvs}}"
py="${PYTHON:-python3}"
mkdir -p "$root"
for peer in statsmodels glmm mixedlm; do
    if [ ! -x "$root/$peer/bin/python" ]; then
        "$py" -m venv "$root/$peer"
    fi
    "$root/$peer/bin/python" -m pip install -q --upgrade pip
    # pandas is what the adapters use to read the CSVs.
    "$root/$peer/bin/python" -m pip install -q "$peer" pandas
    "$root/$peer/bin/python" -c "import importlib.metadata as m; print('$peer', m.version('$peer'))"
done
