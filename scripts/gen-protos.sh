#!/usr/bin/env bash
# Usage: gen-protos.sh PYTHON OUT_DIR — generate *_pb2.py, *_pb2_grpc.py and *.pyi for every proto.
set -euo pipefail
py=$1; out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rm -rf "$out/porteiro"
mkdir -p "$out"
mapfile -t files < <(find protos -name '*.proto' | sort)
"$py" -m grpc_tools.protoc -Iprotos --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" \
  --descriptor_set_out="$out/porteiro/descriptor_set.binpb" --include_source_info --include_imports \
  "${files[@]}"
# descriptor_set.binpb: the same descriptors with their comments (source info), which the
# generated modules leave out; server reflection serves them (porteiro_common.reflection).
# Packages for every generated folder (protoc creates none).
find "$out/porteiro" -type d -exec touch {}/__init__.py \;
# PEP 561: the generated .pyi stubs are the package's types for mypy.
touch "$out/porteiro/py.typed"
