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

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="${ANCHOR_VENVS:-$HERE/.venvs}"
PYTHON="${PYTHON:-python3}"
TORCH_PIN="torch==2.13.0"
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

# pip prints one warning per missing local index folder; hide those lines, keep everything else.
NOISE="is ignored: it is neither a file nor a directory"
quiet_pip() {
  local log rc=0
  log="$(mktemp)"
  "$@" >"$log" 2>&1 || rc=$?
  grep -v "$NOISE" "$log" >&2 || true
  rm -f "$log"
  return $rc
}

works() {  # works NAME -> 0 if the venv exists and its check passes
  local py="$VENVS/$1/bin/python"
  [[ -x "$py" ]] && "$py" -c "${CHECK[$1]}" >/dev/null 2>&1
}

setup_one() {
  local name="$1" env="$VENVS/$1"
  if [[ -z "${PKGS[$name]+x}" ]]; then
    echo "unknown venv '$name' (known: ${ALL[*]})" >&2; return 2
  fi
  if [[ "${FORCE:-0}" != 1 ]] && works "$name"; then
    echo "[$name] already set up: $env"; return 0
  fi
  echo "[$name] creating $env"
  rm -rf "$env"
  "$PYTHON" -m venv "$env"
  local pip=("$env/bin/python" -m pip install --disable-pip-version-check -q)
  # A constraint file keeps every later install from replacing torch.
  local cons="$env/torch-constraint.txt"
  echo "$TORCH_PIN" > "$cons"
  quiet_pip "${pip[@]}" "$TORCH_PIN"
  # shellcheck disable=SC2086
  quiet_pip "${pip[@]}" -c "$cons" ${PKGS[$name]}
  if works "$name"; then
    echo "[$name] ok: $("$env/bin/python" -c 'import torch; print("torch", torch.__version__)')"
  else
    echo "[$name] FAILED import check" >&2; "$env/bin/python" -c "${CHECK[$name]}"; return 1
  fi
}

mkdir -p "$VENVS"
names=("$@"); [[ ${#names[@]} -eq 0 ]] && names=("${ALL[@]}")
rc=0
for n in "${names[@]}"; do setup_one "$n" || rc=1; done
exit $rc
