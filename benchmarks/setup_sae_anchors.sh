#!/usr/bin/env bash
# Create the virtual environments of the SAE anchor libraries used by protocol SAE
# (benchmarks/sae_minilm.py, benchmarks/claims/sae_toy.py, benchmarks/claims/external_sae.py).
#
#   bash benchmarks/setup_sae_anchors.sh              # both venvs
#   bash benchmarks/setup_sae_anchors.sh saelens      # only the named ones (saelens, sparsify)
#
# Venvs live in benchmarks/.venvs/NAME (git-ignored). A venv whose imports already work is skipped
# (FORCE=1 rebuilds it). torch==2.13.0 (the CPU build on local disk) is always installed FIRST and
# a constraint file keeps every later install from replacing it: any other torch request would
# pull a multi-GB CUDA build. The anchor runners read cached activations, so neither venv needs
# transformers' MiniLM package. After each venv the script prints the installed versions.
# Environment: PYTHON (interpreter used to create venvs, default python3); ANCHOR_VENVS (venv
# folder, default benchmarks/.venvs).
set -euo pipefail

# shellcheck source=benchmarks/_venvs.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venvs.sh"

ALL=(saelens sparsify)

# name -> packages installed after torch
declare -A PKGS=(
  [saelens]="sae-lens==6.54.12 safetensors threadpoolctl"
  [sparsify]="eai-sparsify==1.3.3 safetensors threadpoolctl"
)
# name -> distributions whose versions are printed
SHOW=(
  [saelens]="torch sae-lens transformer-lens transformers safetensors numpy"
  [sparsify]="torch eai-sparsify transformers safetensors schedulefree numpy"
)
# name -> python snippet that must run for the venv to count as working
declare -A CHECK=(
  [saelens]="import torch, safetensors; from importlib.metadata import version as v
from sae_lens import SAETrainer, TopKTrainingSAE, TopKTrainingSAEConfig
assert torch.__version__.startswith('2.13.0'), torch.__version__
assert v('sae-lens') == '6.54.12', v('sae-lens')"
  [sparsify]="import torch, safetensors; from importlib.metadata import version as v
from sparsify import SparseCoder, SaeConfig, Trainer, TrainConfig
assert torch.__version__.startswith('2.13.0'), torch.__version__
assert v('eai-sparsify') == '1.3.3', v('eai-sparsify')"
)

setup_main "$@"
