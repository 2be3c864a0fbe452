# Shared by the anchor setup scripts (sourced, not run): one virtual environment per reference
# library under $VENVS, torch==2.13.0 (the CPU build on local disk) installed FIRST and pinned by
# a constraint file so no later install replaces it with a multi-GB CUDA build.
#
# The sourcing script sets ALL (venv names), PKGS[name] (packages installed after torch),
# CHECK[name] (python that must run for the venv to count as working) and optionally
# SHOW[name] (distributions whose versions are printed), then calls `setup_main "$@"`.
# Environment: PYTHON (interpreter used to create venvs, default python3); ANCHOR_VENVS (venv
# folder, default benchmarks/.venvs); FORCE=1 rebuilds venvs that already work.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="${ANCHOR_VENVS:-$HERE/.venvs}"
PYTHON="${PYTHON:-python3}"
TORCH_PIN="torch==2.13.0"
declare -A SHOW=()

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

show() {  # show NAME -> the installed versions (SHOW[NAME], default torch)
  "$VENVS/$1/bin/python" - "${SHOW[$1]:-torch}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for name in sys.argv[1].split():
    try:
        print(f"    {name}=={version(name)}")
    except PackageNotFoundError:
        print(f"    {name}: not installed")
PY
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

setup_main() {  # setup_main [NAME ...] -> set up the named venvs (default: ALL)
  mkdir -p "$VENVS"
  local names=("$@") rc=0 n
  [[ ${#names[@]} -eq 0 ]] && names=("${ALL[@]}")
  for n in "${names[@]}"; do setup_one "$n" || rc=1; done
  return $rc
}
