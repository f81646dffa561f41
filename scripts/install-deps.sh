#!/usr/bin/env bash
# Installs the system packages rawlockcheck needs on a fresh Debian machine
# (elfutils' headers for the symbolizer). Safe to run again; only installs
# what is missing (no network when nothing is; the tests' Python packages
# are scripts/install-sarif-venv.sh's). Needs root (or sudo) when something
# is missing. Extra package names given as arguments are installed too
# (scripts/bench-rcu.sh, scripts/install-sarif-venv.sh).
set -euo pipefail
# zlib1g-dev: zlib, to inflate compressed debug sections (libelf uses it too).
# libc6-dbg: libc's DWARF, for the symbolizer's tests and benchmark.
# binutils: c++filt and addr2line, oracles of the symbolizer's tests and benchmark.
# graphviz: dot, which `rawlockcheck graph --format svg` runs.
packages=(libdw-dev libelf-dev zlib1g-dev libc6-dbg binutils graphviz "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
