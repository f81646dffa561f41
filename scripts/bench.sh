#!/usr/bin/env bash
# The project's benchmark for `rawlockcheck report`, on both trace shapes of
# `rawlockcheck generate`:
#   - reuse: a fixed set of code paths (a real program's chain reuse, the
#     chain cache hits almost always);
#   - low-reuse: random nesting in one global order (about a quarter of the
#     chains hit; every miss walks the graph's edges).
# For each shape it generates traces of N and 2N events (default N = 5
# million) and measures, in the same run:
#   - events/s of `rawlockcheck report` on 2N events, and its ratio to a
#     baseline that only splits the same file into fields and counts the
#     verbs with awk (the least any text-trace consumer must do), so the
#     figure holds on a shared, noisy machine;
#   - peak memory (max RSS) on N and on 2N events: the ratio must stay ~1.0
#     (memory does not grow with trace length, nor with distinct chains);
#   - the chain-cache hit rate;
#   - the same 2N-event trace converted to the binary encoding: its size and
#     `report`'s speed on it.
# Ends with one JSON line of every figure.
# Usage: scripts/bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000000}
scripts/install-deps.sh
swift build -c release --product rawlockcheck >&2
bin=$(swift build -c release --show-bin-path)/rawlockcheck
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

measure() { # file -> "seconds maxrss_kb stats-line"
  /usr/bin/time -f "%e %M" -o "$dir/time" "$bin" report --statistics "$1" >/dev/null 2>"$dir/stats" || true
  echo "$(cat "$dir/time") $(grep 'events/s' "$dir/stats")"
}
best_of() { # runs a command 3 times, prints the best wall time in seconds
  local best=""
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }')
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}

json=""
for shape in reuse low-reuse; do
  "$bin" generate --shape "$shape" --events "$n" --seed 1 >"$dir/n.rlt"
  "$bin" generate --shape "$shape" --events $((2 * n)) --seed 1 >"$dir/2n.rlt"
  events=$(grep -vc '^\(class\|thread\|#\|rawlockcheck-trace\)' "$dir/2n.rlt")
  mb=$(du -m "$dir/2n.rlt" | cut -f1)

  report_best=$(best_of "$bin" report "$dir/2n.rlt")
  "$bin" convert "$dir/2n.rlt" "$dir/2n.rltb"
  binary_best=$(best_of "$bin" report "$dir/2n.rltb")
  text_bytes=$(stat -c %s "$dir/2n.rlt")
  binary_bytes=$(stat -c %s "$dir/2n.rltb")
  awk_best=$(best_of awk '{ verbs[$2]++ } END { for (v in verbs) print v, verbs[v] }' "$dir/2n.rlt")
  read -r _ rss_n _ < <(measure "$dir/n.rlt")
  read -r _ rss_2n stats < <(measure "$dir/2n.rlt")
  hits=$(echo "$stats" | sed -n 's/.*(\([0-9.]*\)% hits).*/\1/p')

  echo "== shape $shape"
  awk -v ev="$events" -v mb="$mb" -v r="$report_best" -v w="$awk_best" -v m1="$rss_n" -v m2="$rss_2n" -v n="$n" 'BEGIN {
    printf "trace: %d events (%d MB)\n", ev, mb
    printf "rawlockcheck report: %.2f s, %.2f M events/s (best of 3)\n", r, ev / r / 1e6
    printf "baseline awk fields: %.2f s, %.2f M lines/s (best of 3)\n", w, ev / w / 1e6
    printf "speed ratio report/awk baseline: %.2f (above 1: faster than splitting the lines with awk)\n", w / r
    printf "peak memory: %.1f MiB at %d events, %.1f MiB at %d events: ratio %.2f\n", m1 / 1024, n, m2 / 1024, 2 * n, m2 / m1
  }'
  echo "statistics: ${stats#*: }"
  awk -v ev="$events" -v r="$report_best" -v b="$binary_best" -v t="$text_bytes" -v s="$binary_bytes" 'BEGIN {
    printf "binary trace: %.1f MB (%.3f of the text, %.2f bytes/event)\n", s / 1e6, s / t, s / ev
    printf "rawlockcheck report, binary: %.2f s, %.2f M events/s (best of 3): %.2fx the text speed\n", b, ev / b / 1e6, r / b
  }'
  key=$(echo "$shape" | sed 's/-r/R/')
  json+=$(awk -v k="$key" -v ev="$events" -v r="$report_best" -v w="$awk_best" -v m1="$rss_n" -v m2="$rss_2n" -v h="${hits:-0}" -v b="$binary_best" -v t="$text_bytes" -v sz="$binary_bytes" 'BEGIN {
    printf "\"%s\": {\"events\": %d, \"eventsPerSecond\": %.0f, \"awkLinesPerSecond\": %.0f, \"ratioToAwk\": %.3f, \"peakMiBAtN\": %.1f, \"peakMiBAt2N\": %.1f, \"memoryRatio\": %.3f, \"chainHitPercent\": %s, \"binaryEventsPerSecond\": %.0f, \"binarySizeRatio\": %.3f}, ",
      k, ev, ev / r, ev / w, w / r, m1 / 1024, m2 / 1024, m2 / m1, h, ev / b, sz / t
  }')
done
echo "{${json}\"n\": $n}"
