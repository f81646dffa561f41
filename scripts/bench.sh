#!/usr/bin/env bash
# The project's benchmark for `rawlockcheck report` (issue 15), on both trace
# shapes of `rawlockcheck generate`:
#   - repeating (`--shape reuse`): a fixed set of code paths, the chain cache
#     hits almost always;
#   - lowReuse (`--shape low-reuse`): random nesting in one global order,
#     about a quarter of the chains hit.
# For each shape it generates a text trace of N and of 10N events (default
# N = 10 million: 10 M and 100 M events), converts each to the binary
# encoding, and measures on one core (every measured command runs under
# `taskset -c 0`), in the same run:
#   - events/s of `rawlockcheck report` on the text and on the binary trace
#     (best of 5 rounds at N, each round running the four commands in turn;
#     best of 2 rounds at 10N), against its baseline: an awk pass
#     that splits the text trace into fields, and `cat` of the binary file to
#     /dev/null;
#   - peak memory (max RSS) of `report` at N and at 10N events (the larger of
#     the two encodings): flat memory means the ratio stays about 1.0;
#   - binary bytes per event, and the chain-cache hit rate;
#   - at N, the same two reports on two cores (`taskset -c 0,1`) with the
#     trace read on a thread of its own (`--reader-thread on`) against the
#     one-thread run on the same two cores (`--reader-thread off`): the
#     overlap only pays when the second core is free, so on a shared machine
#     this figure says as much about the neighbours as about the reader.
# Then the hard shapes at N events: low reuse over 8,000 classes
# (manyClasses); nesting in no order (random-order: randomOrder), where most
# new dependencies close a cycle; frees while 1,000 threads hold locks
# (frees: freesAmongHolders); 48 locks held and released in random order
# (deep: deepRelease); a thread per task (churn: threadChurn),
# whose memory grows by each exited thread's declaration only, measured per
# thread, and the same threads never exiting (pool: idlePool); the options
# a recorder writes (recorded); and 10,000 small CI shards merged
# (mergeShards), against each validated apart.
# Traces go to a temporary directory under .build (on the repository's disk,
# checked with df first), deleted at the end. Ends with one JSON line.
# Usage: scripts/bench.sh [N]   (scripts/bench.sh 1000000: a quick run)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
case "$n" in
*[!0-9]* | "" | 0) echo "usage: scripts/bench.sh [N]" >&2 && exit 2 ;;
esac
big=$((10 * n))
scripts/install-deps.sh
swift build -c release --product rawlockcheck >&2
bin=$(swift build -c release --show-bin-path)/rawlockcheck
mkdir -p .build
# About 16 bytes a text event, 4 a binary one, for the largest trace at a time.
need_kb=$((big * 24 / 1024 + 1048576))
avail_kb=$(df -Pk .build | awk 'NR == 2 { print $4 }')
if [ "$avail_kb" -lt "$need_kb" ]; then
  echo "bench.sh: need about $((need_kb / 1024)) MiB free under .build, have $((avail_kb / 1024)) MiB" >&2
  exit 1
fi
dir=$(mktemp -d "$PWD/.build/bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
pin=(taskset -c 0)

run_timed() { # command... -> "seconds maxrss_kb" (one run, pinned to core 0)
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$dir/rss" "${pin[@]}" "$@" >/dev/null 2>"$dir/err" || true
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v m="$(tail -1 "$dir/rss")" 'BEGIN { printf "%.3f %d\n", e - s, m }'
}
best_of() { # runs count command... -> "best_seconds max_rss_kb"
  local runs=$1 best="" rss=0 t m
  shift
  for ((i = 0; i < runs; i++)); do
    read -r t m < <(run_timed "$@")
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$best $rss"
}

measured() { # what -> sets cmd: the measured command on $dir/t.rlt{,b}
  case $1 in
  text) cmd=("$bin" report --reader-thread off "$dir/t.rlt") ;;
  binary) cmd=("$bin" report --reader-thread off "$dir/t.rltb") ;;
  awk) cmd=(awk '{ verbs[$2]++ } END { for (v in verbs) print v, verbs[v] }' "$dir/t.rlt") ;;
  cat) cmd=(cat "$dir/t.rltb") ;;
  esac
}

rounds() { # runs tag: rounds of the four commands in turn into fig, best time of each
  # (fig[text$tag] ...) and max RSS (fig[textRss$tag] ...): a stretch where a
  # neighbour slows the machine falls on all four alike.
  local what t m
  for what in text binary awk cat; do fig[$what$2]=""; fig[${what}Rss$2]=0; done
  for ((round = 0; round < $1; round++)); do
    for what in text binary awk cat; do
      measured "$what"
      read -r t m < <(run_timed "${cmd[@]}")
      if [ -z "${fig[$what$2]}" ] || awk "BEGIN{exit !($t < ${fig[$what$2]})}"; then
        fig[$what$2]=$t
      fi
      if [ "$m" -gt "${fig[${what}Rss$2]}" ]; then fig[${what}Rss$2]=$m; fi
    done
  done
}

measure_shape() { # generate options...: that trace at N events in both encodings,
  # best of 3 rounds into fig (declared by the caller), with rss (the larger
  # max RSS of the two) and tb, bb (the text and binary file sizes)
  "$bin" generate "$@" --events "$n" --seed 1 >"$dir/t.rlt"
  "$bin" convert "$dir/t.rlt" "$dir/t.rltb"
  trace_stats
  tb=$(stat -c %s "$dir/t.rlt")
  bb=$(stat -c %s "$dir/t.rltb")
  rounds 3 M
  rss=$((fig[textRssM] > fig[binaryRssM] ? fig[textRssM] : fig[binaryRssM]))
  rm -f "$dir/t.rlt" "$dir/t.rltb"
}
trace_stats() { # -> events, hits, deps of $dir/t.rltb, from report --statistics
  "$bin" report --statistics "$dir/t.rltb" >/dev/null 2>"$dir/stats" || true
  events=$(sed -n 's/.*: \([0-9]*\) events in.*/\1/p' "$dir/stats")
  hits=$(sed -n 's/.*(\([0-9.]*\)% hits).*/\1/p' "$dir/stats")
  deps=$(sed -n 's/.* \([0-9]*\) dependencies.*/\1/p' "$dir/stats")
}

json=""
for shape in reuse low-reuse; do
  key=$([ "$shape" = reuse ] && echo repeating || echo lowReuse)
  declare -A fig=()
  for size in "$n" "$big"; do
    runs=$([ "$size" = "$n" ] && echo 5 || echo 2)
    tag=$([ "$size" = "$n" ] && echo N || echo 10N)
    "$bin" generate --shape "$shape" --events "$size" --seed 1 >"$dir/t.rlt"
    "$bin" convert "$dir/t.rlt" "$dir/t.rltb"
    trace_stats
    fig[events$tag]=$events
    fig[hits$tag]=${hits:-0}
    fig[textBytes$tag]=$(stat -c %s "$dir/t.rlt")
    fig[binaryBytes$tag]=$(stat -c %s "$dir/t.rltb")
    rounds "$runs" "$tag"
    if [ "$size" = "$n" ]; then
      pin=(taskset -c 0,1)
      for enc in text:rlt binary:rltb; do
        read -r fig[${enc%%:*}Two] _ < <(best_of 3 "$bin" report --reader-thread off "$dir/t.${enc#*:}")
        read -r fig[${enc%%:*}Pipe] _ < <(best_of 3 "$bin" report --reader-thread on "$dir/t.${enc#*:}")
      done
      pin=(taskset -c 0)
    fi
    rm -f "$dir/t.rlt" "$dir/t.rltb"
  done
  echo "== shape $shape ($key)"
  out=$(
    awk -v k="$key" -v n="$n" -v big="$big" \
      -v e1="${fig[eventsN]}" -v e2="${fig[events10N]}" -v h="${fig[hitsN]}" \
      -v t1="${fig[textN]}" -v t2="${fig[text10N]}" -v b1="${fig[binaryN]}" -v b2="${fig[binary10N]}" \
      -v a1="${fig[awkN]}" -v a2="${fig[awk10N]}" -v c1="${fig[catN]}" -v c2="${fig[cat10N]}" \
      -v tr1="${fig[textRssN]}" -v tr2="${fig[textRss10N]}" -v br1="${fig[binaryRssN]}" -v br2="${fig[binaryRss10N]}" \
      -v tb="${fig[textBytes10N]}" -v bb="${fig[binaryBytes10N]}" \
      -v tt="${fig[textTwo]}" -v tp="${fig[textPipe]}" -v bt="${fig[binaryTwo]}" -v bp="${fig[binaryPipe]}" 'BEGIN {
      m1 = (tr1 > br1 ? tr1 : br1) / 1024; m2 = (tr2 > br2 ? tr2 : br2) / 1024
      printf "text report:   %6.2f M events/s at %d (best of 5), %6.2f M at %d; awk field split %.2f M lines/s: %.2fx awk\n", e1 / t1 / 1e6, e1, e2 / t2 / 1e6, e2, e1 / a1 / 1e6, a1 / t1
      printf "binary report: %6.2f M events/s at %d (best of 5), %6.2f M at %d; %.2fx text; cat %.0f M events/s: %.3fx cat\n", e1 / b1 / 1e6, e1, e2 / b2 / 1e6, e2, t1 / b1, e1 / c1 / 1e6, c1 / b1
      printf "binary size:   %.2f bytes/event (%.3f of text, %.2f bytes/event)\n", bb / e2, bb / tb, tb / e2
      printf "peak memory:   %.1f MiB at %d events, %.1f MiB at %d: ratio %.3f (text %.1f/%.1f, binary %.1f/%.1f)\n", m1, e1, m2, e2, m2 / m1, tr1 / 1024, tr2 / 1024, br1 / 1024, br2 / 1024
      printf "chain cache:   %s%% hits\n", h
      printf "two cores:     reader thread: text %.2f M events/s (%.2fx one thread on two cores), binary %.2f M events/s (%.2fx)\n", e1 / tp / 1e6, tt / tp, e1 / bp / 1e6, bt / bp
      printf "JSON \"%s\": {\"events10M\": %d, \"events100M\": %d, \"textEventsPerSecond\": %.0f, \"textEventsPerSecond100M\": %.0f, \"binaryEventsPerSecond\": %.0f, \"binaryEventsPerSecond100M\": %.0f, \"binaryToText\": %.3f, \"awkLinesPerSecond\": %.0f, \"textToAwk\": %.3f, \"catEventsPerSecond\": %.0f, \"binaryToCat\": %.4f, \"binaryBytesPerEvent\": %.3f, \"textBytesPerEvent\": %.3f, \"peakMiB10M\": %.1f, \"peakMiB100M\": %.1f, \"memoryRatio\": %.3f, \"chainHitPercent\": %s, \"twoCores\": {\"textEventsPerSecond\": %.0f, \"textReaderThreadEventsPerSecond\": %.0f, \"binaryEventsPerSecond\": %.0f, \"binaryReaderThreadEventsPerSecond\": %.0f}",
        k, e1, e2, e1 / t1, e2 / t2, e1 / b1, e2 / b2, t1 / b1, e1 / a1, a1 / t1, e1 / c1, c1 / b1, bb / e2, tb / e2, m1, m2, m2 / m1, h, e1 / tt, e1 / tp, e1 / bt, e1 / bp
      printf "}, \n"
    }'
  )
  grep -v '^JSON ' <<<"$out"
  json+=$(sed -n 's/^JSON //p' <<<"$out")
  unset fig
done
hard_shape() { # key label generate-options...: that shape at N events, best of 3,
  # against the same baselines, printed and added to json
  local key=$1 label=$2
  shift 2
  declare -A fig=()
  measure_shape "$@"
  echo "== $label ($key)"
  out=$(awk -v k="$key" -v e="$events" -v d="$deps" -v t="${fig[textM]}" -v b="${fig[binaryM]}" \
    -v a="${fig[awkM]}" -v c="${fig[catM]}" -v r="$rss" 'BEGIN {
    printf "text report:   %6.2f M events/s at %d (best of 3): %.2fx awk\n", e / t / 1e6, e, a / t
    printf "binary report: %6.2f M events/s: %.2fx text, %.3fx cat\n", e / b / 1e6, t / b, c / b
    printf "graph:         %d dependencies; peak memory %.1f MiB\n", d, r / 1024
    printf "JSON \"%s\": {\"events\": %d, \"dependencies\": %d, \"textEventsPerSecond\": %.0f, \"textToAwk\": %.3f, \"binaryEventsPerSecond\": %.0f, \"binaryToText\": %.3f, \"binaryToCat\": %.4f, \"peakMiB\": %.1f}, \n", k, e, d, e / t, a / t, e / b, t / b, c / b, r / 1024
  }')
  grep -v '^JSON ' <<<"$out"
  json+=$(sed -n 's/^JSON //p' <<<"$out")
}
# The adversarial shapes. Low reuse over 8,000 classes (85,715
# dependencies at 2 M events), where a new dependency's searches could walk
# the whole graph; and random-order, 2,000 sleeping locks nested in no
# order, where most new pairs of classes close a cycle (reported, refused)
# once the graph fills: the cycle searches and the reordering of the
# topological order on every shape they meet.
hard_shape manyClasses "shape low-reuse, 8,000 classes" --shape low-reuse --classes 8000
hard_shape randomOrder "shape random-order" --shape random-order
# Frees while 1,000 threads each hold locks (every free is checked against
# every thread's held locks: lockdep checks the current task's only).
hard_shape freesAmongHolders "shape frees, 1,000 threads" --shape frees --threads 1000
# 48 locks held at once (lockdep's MAX_LOCK_DEPTH), released in random order:
# each release below others re-validates every lock above it, each a new
# chain (lockdep's reacquire_held_locks()).
hard_shape deepRelease "shape deep, 48 held, released in random order" --shape deep
thread_shape() { # key label shape: that thread shape at N events (best of 3)
  # and at N/10 (once); memory grows by what the trace keeps of each thread,
  # measured as the growth of peak memory (binary) from N/10 to N events
  # per thread added (the threads counted by their distinct tokens)
  local key=$1 label=$2 shape=$3
  declare -A fig=()
  for size in $((n / 10)) "$n"; do
    tag=$([ "$size" = "$n" ] && echo N || echo Tenth)
    "$bin" generate --shape "$shape" --events "$size" --seed 1 >"$dir/t.rlt"
    "$bin" convert "$dir/t.rlt" "$dir/t.rltb"
    fig[threads$tag]=$(awk '$1 ~ /^w/ && !seen[$1]++ { n++ } END { print n + 0 }' "$dir/t.rlt")
    trace_stats
    fig[events$tag]=$events
    if [ "$tag" = N ]; then
      rounds 3 N
    else
      rounds 1 Tenth
    fi
    rm -f "$dir/t.rlt" "$dir/t.rltb"
  done
  echo "== $label ($key)"
  out=$(awk -v k="$key" -v e="${fig[eventsN]}" -v th="${fig[threadsN]}" -v th0="${fig[threadsTenth]}" \
    -v t="${fig[textN]}" -v b="${fig[binaryN]}" -v a="${fig[awkN]}" -v c="${fig[catN]}" \
    -v r="${fig[binaryRssN]}" -v r0="${fig[binaryRssTenth]}" 'BEGIN {
    printf "text report:   %6.2f M events/s at %d (best of 3): %.2fx awk\n", e / t / 1e6, e, a / t
    printf "binary report: %6.2f M events/s: %.2fx text, %.3fx cat\n", e / b / 1e6, t / b, c / b
    printf "threads:       %d; binary peak memory %.1f MiB (%.1f MiB at a tenth): %.0f bytes per thread added\n", th, r / 1024, r0 / 1024, (r - r0) * 1024 / (th - th0)
    printf "JSON \"%s\": {\"events\": %d, \"threads\": %d, \"textEventsPerSecond\": %.0f, \"textToAwk\": %.3f, \"binaryEventsPerSecond\": %.0f, \"binaryToText\": %.3f, \"peakMiB\": %.1f, \"peakMiBTenth\": %.1f, \"bytesPerThread\": %.0f}, \n", k, e, th, e / t, a / t, e / b, t / b, r / 1024, r0 / 1024, (r - r0) * 1024 / (th - th0)
  }')
  grep -v '^JSON ' <<<"$out"
  json+=$(sed -n 's/^JSON //p' <<<"$out")
}
# The thread-per-task shape (churn): about one short-lived thread per nine
# events, four alive at a time. A thread's validator is reused once it
# exits, so what memory grows by is each thread's declaration.
thread_shape threadChurn "shape churn" churn
# The same threads, none exiting (pool): each stays alive, holding nothing,
# after its last event. An idle thread's validator is given back when the
# validators are full, so what memory grows by is again each thread's
# declaration (before 2026-12-06: about 1 KB a thread).
thread_shape idlePool "shape pool" pool
# The recorded shape: low reuse, every event as a recorder writes it
# (inst= on acquisitions and releases, at= one of 64 stacks on
# acquisitions: generate --stacks 64), where the text reader's lines are
# twice as long and each has options to read. N events, best of 3.
declare -A fig=()
measure_shape --shape low-reuse --stacks 64
echo "== shape low-reuse with inst= and at= (recorded)"
out=$(awk -v e="$events" -v t="${fig[textM]}" -v b="${fig[binaryM]}" -v a="${fig[awkM]}" \
  -v c="${fig[catM]}" -v r="$rss" -v tb="$tb" -v bb="$bb" 'BEGIN {
  printf "text report:   %6.2f M events/s at %d (best of 3): %.2fx awk; %.2f bytes/event\n", e / t / 1e6, e, a / t, tb / e
  printf "binary report: %6.2f M events/s: %.2fx text, %.3fx cat; %.2f bytes/event\n", e / b / 1e6, t / b, c / b, bb / e
  printf "peak memory:   %.1f MiB\n", r / 1024
  printf "JSON \"recorded\": {\"events\": %d, \"textEventsPerSecond\": %.0f, \"textToAwk\": %.3f, \"binaryEventsPerSecond\": %.0f, \"binaryToText\": %.3f, \"binaryToCat\": %.4f, \"textBytesPerEvent\": %.3f, \"binaryBytesPerEvent\": %.3f, \"peakMiB\": %.1f}, \n", e, e / t, a / t, e / b, t / b, c / b, tb / e, bb / e, r / 1024
}')
grep -v '^JSON ' <<<"$out"
json+=$(sed -n 's/^JSON //p' <<<"$out")
# Many CI shards merged: 10,000 small traces, each declaring 10 classes
# of its own and taking one, `report --merge` of all against `report` of
# all (each validated apart: linear), best of 3 each. A merge that copied
# what the traces before declared made this quadratic (32.9 s, now 0.7).
shards=10000
mkdir -p "$dir/shards"
awk -v d="$dir/shards" -v k="$shards" 'BEGIN {
  for (i = 0; i < k; i++) {
    f = sprintf("%s/s%05d.rlt", d, i)
    print "rawlockcheck-trace 1" > f
    for (c = 0; c < 10; c++) printf "class k%d_%d mutex\n", i, c > f
    printf "1 acquire k%d_0\n1 release k%d_0\n", i, i > f
    close(f)
  }
}'
read -r merged _ < <(best_of 3 "$bin" report --merge "$dir"/shards/*.rlt)
read -r apart _ < <(best_of 3 "$bin" report "$dir"/shards/*.rlt)
rm -rf "$dir/shards"
echo "== $shards shards (mergeShards)"
out=$(awk -v k="$shards" -v m="$merged" -v a="$apart" 'BEGIN {
  printf "report --merge: %.2f s; report of each: %.2f s (best of 3): %.2fx\n", m, a, m / a
  printf "JSON \"mergeShards\": {\"shards\": %d, \"mergeSeconds\": %.3f, \"separateSeconds\": %.3f, \"mergeToSeparate\": %.3f}, \n", k, m, a, m / a
}')
grep -v '^JSON ' <<<"$out"
json+=$(sed -n 's/^JSON //p' <<<"$out")
echo "{${json}\"n\": $n, \"cores\": \"taskset -c 0\"}"
