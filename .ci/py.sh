# Sourced: sets `py` to a Python that has the PyPI packages named in "$@" (installing them),
# and `py_scripts` to the folder of their commands. The python3 on PATH is used if pip may
# install into it; a Debian system Python refuses pip (PEP 668), so then a virtual environment
# under target/ holds them.
py_ensure() {
  local mods=() pkgs=("$@")
  for p in "${pkgs[@]}"; do mods+=("$(echo "${p%%[*}" | tr - _)"); done
  local check="import ${mods[*]}"; check="${check// /, }"; check="${check/import,/import}"
  py=python3
  if ! "$py" -c "$check" 2>/dev/null && ! "$py" -m pip install -q "${pkgs[@]}" 2>/dev/null; then
    if [ ! -x target/st-venv/bin/python ]; then
      "$py" -m venv target/st-venv 2>/dev/null || {
        if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO apt-get update -q >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-venv >/dev/null 2>&1 || true
        "$py" -m venv target/st-venv
      }
    fi
    py=target/st-venv/bin/python
    "$py" -c "$check" 2>/dev/null || "$py" -m pip install -q "${pkgs[@]}"
  fi
  py_scripts="$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
}
