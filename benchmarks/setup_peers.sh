#!/usr/bin/env bash
# Virtual environments for the peers the pipeline benchmark compares tasuki against, one per
# peer so that their pins cannot clash: benchmarks/.venv-<peer> (gitignored). None of these is a
# dependency of tasuki; they live only here.
#
#   bash benchmarks/setup_peers.sh                 # every peer
#   bash benchmarks/setup_peers.sh gokart luigi    # only these
#
# Prints the interpreter of each peer it made (or found up to date), one a line; a venv whose
# pins changed is updated. Exit status 1 when a peer could not be installed (the others are).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
declare -A pins=(
  [gokart]="gokart==1.12.2 luigi==3.8.1 pandas pyarrow"
  [luigi]="luigi==3.8.1"
  [kedro]="kedro==1.7.0"
  [prefect]="prefect==3.9.1"
  [hamilton]="apache-hamilton==1.90.0"
)
peers=("$@")
[[ ${#peers[@]} -eq 0 ]] && peers=(gokart luigi kedro prefect hamilton)
status=0
for peer in "${peers[@]}"; do
  if [[ -z "${pins[$peer]:-}" ]]; then
    echo "unknown peer $peer (known: ${!pins[*]})" >&2
    status=1
    continue
  fi
  venv="$here/.venv-$peer"
  stamp="$venv/.benchmark-pins"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "${pins[$peer]}" ]]; then
    echo "$venv/bin/python"
    continue
  fi
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  # pip's notes about absent local index folders are noise here; real errors still show.
  # shellcheck disable=SC2086
  if ! "$venv/bin/pip" install -q ${pins[$peer]} 2> >(grep -v "is ignored: it is neither" >&2); then
    echo "$peer: pip install ${pins[$peer]} failed" >&2
    status=1
    continue
  fi
  echo "${pins[$peer]}" > "$stamp"
  echo "$venv/bin/python"
done
exit $status
