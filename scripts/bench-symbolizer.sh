#!/bin/sh
# Builds and runs the symbolizer benchmark (release), installing the system
# packages it compares against when they are missing.
set -eu
cd "$(dirname "$0")/.."
need=""
[ -d /usr/lib/debug/.build-id ] && dpkg -s libc6-dbg >/dev/null 2>&1 || need="$need libc6-dbg"
command -v addr2line >/dev/null 2>&1 || need="$need binutils"
dpkg -s libdw-dev >/dev/null 2>&1 || need="$need libdw-dev libelf-dev"
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update && apt-get install -y $need
  else
    sudo apt-get update && sudo apt-get install -y $need
  fi
fi
swift build -c release --scratch-path .build-sym --product SymbolizerBenchmark
exec "$(swift build -c release --scratch-path .build-sym --show-bin-path)/SymbolizerBenchmark" "$@"
