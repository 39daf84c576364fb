#!/usr/bin/env bash
# Usage: check-protos.sh PYTHON — fail when committed generated code drifts from the protos.
set -euo pipefail
py=$1
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bash "$root/scripts/gen-protos.sh" "$py" "$tmp"
if ! diff -r -x __pycache__ "$tmp/porteiro" "$root/libs/porteiro-common/src/porteiro" >"$tmp/diff.txt"; then
  echo "generated code is out of date: run 'make protos' and commit the result" >&2
  head -40 "$tmp/diff.txt" >&2
  exit 1
fi
echo "protos: generated code up to date"
