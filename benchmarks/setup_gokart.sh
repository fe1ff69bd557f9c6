#!/usr/bin/env bash
# A separate virtual environment with gokart 1.12.2, the peer the benchmarks compare against.
# gokart is not a dependency of tasuki; it lives only here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv-gokart"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "gokart==1.12.2" pandas pyarrow
fi
echo "$venv/bin/python"
