#!/usr/bin/env bash
# Install posebench (with its `dev` extra) into a virtual environment and run the test suite.
#
# The environment: the quick start's .venv in the clone when there is one and
# POSEBENCH_VENV_CACHE is not set (the `dev` extra, pytest and ruff, is added to it once per
# pyproject.toml); else one reused between runs outside the clone, in $POSEBENCH_VENV_CACHE
# (default ~/.cache/posebench/venvs), keyed on pyproject.toml and the Python version, so a
# dependency change builds a fresh one. posebench itself is reinstalled from this checkout on
# every run. Extra arguments go to pytest; the temporary folders of passing tests are not kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
if [ -z "${POSEBENCH_VENV_CACHE:-}" ] && [ -x "$root/.venv/bin/python" ] \
   && "$root/.venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  venv="$root/.venv"
  key=$({ cat "$root/pyproject.toml"; "$venv/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
  if [ ! -f "$venv/.posebench-dev-$key" ]; then
    echo "posebench: adding the dev extra to $venv (once per pyproject.toml)" >&2
    "$venv/bin/python" -m pip install --quiet "$root[dev]"
    rm -f "$venv"/.posebench-dev-*
    touch "$venv/.posebench-dev-$key"
  fi
else
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
fi
"$venv/bin/python" -m pip install --quiet --no-deps --force-reinstall "$root"
cd "$root"
# Lint and import order first (config in pyproject.toml): a finding fails the run before the tests.
"$venv/bin/ruff" check "$root"
# The pytest script (not `python -m pytest`) keeps the source folder off sys.path, so the tests
# import the installed package, where methods/ and studies/ sit inside posebench/.
exec "$venv/bin/pytest" -o tmp_path_retention_policy=failed "$@"
