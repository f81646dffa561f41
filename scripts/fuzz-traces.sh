#!/usr/bin/env bash
# libFuzzer on both trace readers: builds Basics, WaitContext, LockGraph and
# Trace with coverage and AddressSanitizer (a build directory of their own,
# .build/fuzz), links scripts/fuzz/FuzzTraces.swift against them with
# -sanitize=fuzzer, seeds a corpus with every fixture in both encodings, and
# runs for SECONDS (default 60). Not part of `swift build`.
# Usage: scripts/fuzz-traces.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=.build/fuzz
# Coverage is asked for by name: `--sanitize=fuzzer` alone leaves the
# library targets uninstrumented, and libFuzzer then mutates blind. A
# change of flags does not recompile unchanged files: start over then.
flags=(--sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp)
if [ "$(cat "$build/flags" 2>/dev/null)" != "${flags[*]}" ]; then
  rm -rf "$build"
  mkdir -p "$build"
  echo "${flags[*]}" >"$build/flags"
fi
swift build --build-path "$build" --target Trace "${flags[@]}" >&2
bin=$(swift build --build-path "$build" --show-bin-path)
objects=()
for target in Basics WaitContext LockGraph Trace; do
  # Only the objects of sources that still exist: a deleted file's object
  # stays in the build directory.
  for object in "$bin/$target.build"/*.swift.o; do
    name=$(basename "$object" .o)
    if [ -n "$(find "Sources/$target" -name "$name" -print -quit)" ]; then objects+=("$object"); fi
  done
done
swiftc -sanitize=fuzzer,address -parse-as-library -I "$bin/Modules" \
  scripts/fuzz/FuzzTraces.swift "${objects[@]}" -o "$build/fuzz-traces" 2> >(grep -v "Cannot export local symbol" >&2)

corpus="$build/corpus"
mkdir -p "$corpus"
tool=$(swift build --show-bin-path)/rawlockcheck
find Fixtures/traces -name '*.rlt' | while read -r f; do
  name=$(echo "$f" | tr / _)
  cp "$f" "$corpus/$name"
  if [ -x "$tool" ]; then
    # the binary body without its 5-byte header (the harness adds it)
    "$tool" convert "$f" "$corpus/$name.rltb" --to binary 2>/dev/null && \
      tail -c +6 "$corpus/$name.rltb" > "$corpus/$name.body" && rm "$corpus/$name.rltb" || true
  fi
done
"$build/fuzz-traces" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 "$corpus"
