#!/usr/bin/env bash
# Create the virtual environment of the time-series imputation anchors (PyPOTS: BRITS, SAITS,
# Transformer, PatchTST) used by benchmarks/ts_impute.py (protocol MASK-TS-IMPUTE).
#
#   bash benchmarks/setup_ts_anchors.sh          # creates benchmarks/.venvs/pypots
#
# Its own venv because PyPOTS pins transformers <= 4.57.6, which the library must not inherit.
# torch==2.13.0 (the CPU build) is installed first and pinned by a constraint file (see _venvs.sh).
# Environment: PYTHON, ANCHOR_VENVS, FORCE=1 (see _venvs.sh).
set -euo pipefail

# shellcheck source=benchmarks/_venvs.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venvs.sh"

ALL=(pypots)
declare -A PKGS=([pypots]="pypots==1.5 scikit-learn")
declare -A CHECK=(
  [pypots]="import torch, pypots; from importlib.metadata import version as v
from pypots.imputation import BRITS, SAITS, Transformer, PatchTST
assert torch.__version__.startswith('2.13.0'), torch.__version__
assert v('pypots') == '1.5', v('pypots')"
)
SHOW[pypots]="torch pypots transformers"

setup_main "$@"
