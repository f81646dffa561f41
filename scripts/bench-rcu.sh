#!/usr/bin/env bash
# kvfreeRCU's benchmark, every figure against a baseline measured in the
# same run (details in Sources/KvfreeBenchmark/main.swift, docs/kfree-rcu.md):
# - the kernel's flood test per design: N x (kmalloc(24) + kvfreeRCU(p, head:))
#   + barrier on one thread and on every processor (baseline kmalloc + kfree);
# - the free walk after a grace period, arrays against the linked list, on
#   cache-cold objects: ns per freed object, and data-cache (D1) misses per
#   freed object from cachegrind (perf's hardware counters are not available
#   on every VM; cachegrind simulates the machine's caches instead):
#     valgrind --tool=cachegrind --cache-sim=yes --D1=32768,8,64 --LL=33554432,16,64 \
#       KvfreeBenchmark-nodebug walk arrays|list N [--no-walk]
#   misses of the walk = (run with the walk) - (same run ending before the walk);
# - the read-side pair and allocate + deferred free + barrier against
#   liburcu (Debian's liburcu-dev, memb flavour), through a C program built
#   here with cc into .build/bench-rcu/ (not a package target, so that the
#   package builds without liburcu).
# Ends with one JSON line (keys in the README).
#   scripts/bench-rcu.sh [OBJECTS]   (default 1000000; cachegrind runs use OBJECTS/5)
set -euo pipefail
cd "$(dirname "$0")/.."
objects=${1:-1000000}
scripts/install-deps.sh liburcu-dev valgrind >&2
swift build -c release --product KvfreeBenchmark >&2
bench="$(swift build -c release --show-bin-path)/KvfreeBenchmark"
mkdir -p .build/bench-rcu
cc -O2 -o .build/bench-rcu/urcu-bench scripts/bench-rcu/urcu-bench.c -lurcu-memb

urcu=$(.build/bench-rcu/urcu-bench 100000000 "$objects")
urcu_read=$(sed -n 's/^readPairNs=//p' <<<"$urcu")
urcu_call=$(sed -n 's/^callRcuNsPerObject=//p' <<<"$urcu")
echo "liburcu (memb): read pair $urcu_read ns; malloc + call_rcu + rcu_barrier $urcu_call ns per object"

# D1 data misses (reads + writes) of one cachegrind run. The caches are
# given explicitly (this machine's L1d and L3: a VM may report an L3 that
# cachegrind cannot simulate), and the binary runs without its DWARF
# (valgrind 3.19 cannot read Swift's DWARF 5 and gives up).
objcopy --strip-debug "$bench" .build/bench-rcu/KvfreeBenchmark-nodebug
d1_misses() {
  valgrind --tool=cachegrind --cache-sim=yes --D1=32768,8,64 --LL=33554432,16,64 \
    --cachegrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
    sed -n 's/.*D1  misses: *\([0-9,]*\).*/\1/p' | tr -d ,
}
walk_objects=$((objects / 5))
miss_args=()
if command -v valgrind >/dev/null; then
  per_object() { # path
    local with without
    local stripped=.build/bench-rcu/KvfreeBenchmark-nodebug
    with=$(d1_misses "$stripped" walk "$1" "$walk_objects")
    without=$(d1_misses "$stripped" walk "$1" "$walk_objects" --no-walk)
    awk -v a="$with" -v b="$without" -v n="$walk_objects" 'BEGIN { printf "%.4f", (a - b) / n }'
  }
  array_misses=$(per_object arrays)
  list_misses=$(per_object list)
  miss_args=(--array-misses "$array_misses" --list-misses "$list_misses" --misses-note
    "cachegrind D1 misses (simulated caches; perf cache-misses is not supported on this VM), $walk_objects objects, walk minus a run that ends before it")
else
  miss_args=(--misses-note "valgrind missing: no cache-miss counter")
fi
"$bench" --objects "$objects" --urcu-read-pair "$urcu_read" --urcu-call-rcu "$urcu_call" "${miss_args[@]}"
