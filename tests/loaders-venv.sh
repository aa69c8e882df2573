#!/bin/sh
# Creates the Python environment in which tests/loaders.py checks that debias outputs load in
# pyarrow, polars, DuckDB and Hugging Face `datasets` (from PyPI):
#
#   tests/loaders-venv.sh [DIR]     # default: $HOME/.cache/debias-pyenv
#
# The test `outputs_load_in_python_data_tools` runs it when the environment is missing, and is
# skipped (saying so) when it cannot be made; DEBIAS_REQUIRE_LOADERS=1 makes that a failure.
set -eu
dir=${1:-$HOME/.cache/debias-pyenv}
if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import pyarrow, polars, duckdb, datasets" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$dir"
"$dir/bin/pip" install --quiet "pyarrow>=15" "polars>=1" "duckdb>=1" "datasets>=3"
