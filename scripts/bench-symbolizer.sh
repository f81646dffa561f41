#!/usr/bin/env bash
# Builds and runs the symbolizer benchmark (release): our symbolizer against
# llvm-symbolizer and binutils addr2line on the same random addresses, in
# the same run. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product SymbolizerBenchmark >&2
swift build -c release --product rawlockcheck >&2
exec "$(swift build -c release --show-bin-path)/SymbolizerBenchmark" "$@"
