#!/usr/bin/env bash
# Install posebench (with its `dev` extra) into a virtual environment and run the test suite.
#
# The environment is reused between runs: it lives outside the clone, in
# $POSEBENCH_VENV_CACHE (default ~/.cache/posebench/venvs), keyed on pyproject.toml and the
# Python version, so a dependency change builds a fresh one. posebench itself is reinstalled
# from this checkout on every run. Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
cache=${POSEBENCH_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/posebench/venvs}
key=$({ cat "$root/pyproject.toml"; "$py" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
venv="$cache/$key"
if [ ! -f "$venv/.complete" ]; then
  echo "posebench: building test environment $venv (first run only)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "$root[dev]"
  touch "$venv/.complete"  # an interrupted build lacks this and is rebuilt next time
fi
"$venv/bin/python" -m pip install --quiet --no-deps --force-reinstall "$root"
cd "$root"
# Lint and import order first (config in pyproject.toml): a finding fails the run before the tests.
"$venv/bin/ruff" check "$root"
# The pytest script (not `python -m pytest`) keeps the source folder off sys.path, so the tests
# import the installed package, where methods/ and studies/ sit inside posebench/.
exec "$venv/bin/pytest" "$@"
