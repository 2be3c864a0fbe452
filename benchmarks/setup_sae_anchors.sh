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

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="${ANCHOR_VENVS:-$HERE/.venvs}"
PYTHON="${PYTHON:-python3}"
TORCH_PIN="torch==2.13.0"
ALL=(saelens sparsify)

# name -> packages installed after torch
declare -A PKGS=(
  [saelens]="sae-lens==6.54.12 safetensors threadpoolctl"
  [sparsify]="eai-sparsify==1.3.3 safetensors threadpoolctl"
)
# name -> distributions whose versions are printed
declare -A SHOW=(
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

show() {  # show NAME -> one line per distribution: name==version
  local py="$VENVS/$1/bin/python"
  "$py" - "${SHOW[$1]}" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
for name in sys.argv[1].split():
    try:
        print(f"    {name}=={version(name)}")
    except PackageNotFoundError:
        print(f"    {name}: not installed")
EOF
}

setup_one() {
  local name="$1" env="$VENVS/$1"
  if [[ -z "${PKGS[$name]+x}" ]]; then
    echo "unknown venv '$name' (known: ${ALL[*]})" >&2; return 2
  fi
  if [[ "${FORCE:-0}" != 1 ]] && works "$name"; then
    echo "[$name] already set up: $env"; show "$name"; return 0
  fi
  echo "[$name] creating $env"
  rm -rf "$env"
  "$PYTHON" -m venv "$env"
  local pip=("$env/bin/python" -m pip install --disable-pip-version-check -q)
  local cons="$env/torch-constraint.txt"
  echo "$TORCH_PIN" > "$cons"
  quiet_pip "${pip[@]}" "$TORCH_PIN"
  # shellcheck disable=SC2086
  quiet_pip "${pip[@]}" -c "$cons" ${PKGS[$name]}
  if works "$name"; then
    echo "[$name] ok: $env"; show "$name"
  else
    echo "[$name] FAILED import check" >&2; "$env/bin/python" -c "${CHECK[$name]}"; return 1
  fi
}

mkdir -p "$VENVS"
names=("$@"); [[ ${#names[@]} -eq 0 ]] && names=("${ALL[@]}")
rc=0
for n in "${names[@]}"; do setup_one "$n" || rc=1; done
exit $rc
