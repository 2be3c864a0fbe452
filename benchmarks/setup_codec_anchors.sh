#!/usr/bin/env bash
# Create the virtual environment of the vector-codec anchor library used by protocol CODEC-VEC
# (benchmarks/codec_vec.py runs benchmarks/anchors/codec_vec_faiss.py in it).
#
#   bash benchmarks/setup_codec_anchors.sh            # the faiss venv
#
# The venv lives in benchmarks/.venvs/faiss (git-ignored); one whose imports already work is
# skipped (FORCE=1 rebuilds it). torch==2.13.0 is installed first by _venvs.sh (its constraint
# file keeps faiss' numpy from pulling anything else). Environment: PYTHON, ANCHOR_VENVS.
set -euo pipefail

# shellcheck source=benchmarks/_venvs.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venvs.sh"

ALL=(faiss)

declare -A PKGS=(
  [faiss]="faiss-cpu==1.15.1 numpy"
)
SHOW=(
  [faiss]="faiss-cpu numpy"
)
declare -A CHECK=(
  [faiss]="import faiss, numpy; from importlib.metadata import version as v
assert v('faiss-cpu') == '1.15.1', v('faiss-cpu')"
)

setup_main "$@"
