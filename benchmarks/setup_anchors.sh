#!/usr/bin/env bash
# Create the virtual environments of the reference ("anchor") libraries used by the benchmarks.
#
#   bash benchmarks/setup_anchors.sh              # all venvs
#   bash benchmarks/setup_anchors.sh pythae       # only the named ones (pythae, autoencoders)
#
# Venvs live in benchmarks/.venvs/NAME (git-ignored). A venv whose imports already work is skipped
# (set FORCE=1 to rebuild). torch==2.13.0 (the CPU build on local disk) is always installed FIRST:
# any other torch request would pull a multi-GB CUDA build.
# Environment: PYTHON (interpreter used to create venvs, default python3); ANCHOR_VENVS (venv folder,
# default benchmarks/.venvs).
set -euo pipefail

# shellcheck source=benchmarks/_venvs.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venvs.sh"

ALL=(pythae autoencoders)

# name -> packages installed after torch
declare -A PKGS=(
  [pythae]="pythae==0.1.2 scikit-learn"
  [autoencoders]="autoencoders==0.6.8 vector-quantize-pytorch==1.32.0 scikit-learn"
)
# name -> python snippet that must run for the venv to count as working
declare -A CHECK=(
  [pythae]="import torch, sklearn, pythae; from importlib.metadata import version as v
from pythae.models import VAE, VQVAE
assert torch.__version__.startswith('2.13.0'), torch.__version__
assert v('pythae') == '0.1.2', v('pythae')"
  [autoencoders]="import torch, sklearn, autoencoders, vector_quantize_pytorch; from importlib.metadata import version as v
from autoencoders import VAETrainer, VQTrainer
assert torch.__version__.startswith('2.13.0'), torch.__version__
assert autoencoders.__version__ == '0.6.8', autoencoders.__version__
assert v('vector-quantize-pytorch') == '1.32.0', v('vector-quantize-pytorch')"
)

setup_main "$@"
