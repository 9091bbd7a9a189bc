#!/bin/sh
# Build every examples/bpf/*.bpf.c into examples/bpf/out/NAME.bpf.o (the object the kernel would load).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
clang=${CLANG:-clang-19}
command -v "$clang" >/dev/null 2>&1 || { echo "build.sh: $clang not found (apt-get install -y clang-19)" >&2; exit 1; }
mkdir -p "$here/out"
for src in "$here"/*.bpf.c; do
	name=$(basename "$src" .bpf.c)
	"$clang" -g -O2 -target bpf -mcpu=v3 -Wall -Werror -I"$here/include" -c "$src" -o "$here/out/$name.bpf.o.tmp"
	mv "$here/out/$name.bpf.o.tmp" "$here/out/$name.bpf.o"
done
