#!/usr/bin/env bash
# Create the virtual environment of the image masked-autoencoder anchor (Hugging Face ViTMAE)
# used by benchmarks/mask_img_probe.py (protocol MASK-IMG-PROBE), which runs
# benchmarks/anchors/mask_img_vitmae.py in it.
#
#   bash benchmarks/setup_mask_anchors.sh          # creates benchmarks/.venvs/hf
#
# Its own venv because transformers must never become a dependency of the library; pinned to
# <= 4.57.6 (the line PyPOTS also pins). torch==2.13.0 (the CPU build on local disk) is installed
# first and pinned by a constraint file (see _venvs.sh). Environment: PYTHON, ANCHOR_VENVS,
# FORCE=1 (see _venvs.sh).
set -euo pipefail

# shellcheck source=benchmarks/_venvs.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venvs.sh"

ALL=(hf)
declare -A PKGS=([hf]="transformers<=4.57.6 scikit-learn")
declare -A CHECK=(
  [hf]="import torch, sklearn; from transformers import ViTMAEConfig, ViTMAEForPreTraining
assert torch.__version__.startswith('2.13.0'), torch.__version__"
)
SHOW[hf]="torch transformers scikit-learn"

setup_main "$@"
