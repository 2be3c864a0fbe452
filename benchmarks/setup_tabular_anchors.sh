#!/usr/bin/env bash
# Create the virtual environment of the tabular anchor library (PyOD) used by benchmarks/ad.py.
#
#   bash benchmarks/setup_tabular_anchors.sh        # creates benchmarks/.venvs/pyod
#
# The venv lives in benchmarks/.venvs/pyod (git-ignored). A venv whose imports already work is
# skipped (FORCE=1 rebuilds it). torch==2.13.0 (the CPU build on local disk) is installed FIRST,
# and a constraint file keeps every later install from replacing it: any other torch request
# would pull a multi-GB CUDA build. pyod 3.6.7 imports tqdm without declaring it.
# scikit-learn's anchors (IsolationForest, imputers) run in-process and need no venv.
# Environment: PYTHON (interpreter used to create the venv, default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENV="$HERE/.venvs/pyod"
PYTHON="${PYTHON:-python3}"
TORCH_PIN="torch==2.13.0"
CHECK="import torch, tqdm, sklearn, pyod
from pyod.models.auto_encoder import AutoEncoder
from pyod.models.vae import VAE
from pyod.models.iforest import IForest
from pyod.models.ecod import ECOD
from pyod.models.knn import KNN
assert torch.__version__.startswith('2.13.0'), torch.__version__
assert pyod.__version__ == '3.6.7', pyod.__version__"

works() { [[ -x "$ENV/bin/python" ]] && "$ENV/bin/python" -c "$CHECK" >/dev/null 2>&1; }

if [[ "${FORCE:-0}" != 1 ]] && works; then
  echo "[pyod] already set up: $ENV"; exit 0
fi
echo "[pyod] creating $ENV"
rm -rf "$ENV"
mkdir -p "$HERE/.venvs"
"$PYTHON" -m venv "$ENV"
pip=("$ENV/bin/python" -m pip install --disable-pip-version-check -q)
cons="$ENV/torch-constraint.txt"
echo "$TORCH_PIN" > "$cons"
"${pip[@]}" "$TORCH_PIN"
"${pip[@]}" -c "$cons" "pyod==3.6.7" tqdm scikit-learn
if works; then
  echo "[pyod] ok: $("$ENV/bin/python" -c 'import torch, pyod; print("torch", torch.__version__, "pyod", pyod.__version__)')"
else
  echo "[pyod] FAILED import check" >&2; "$ENV/bin/python" -c "$CHECK"; exit 1
fi
