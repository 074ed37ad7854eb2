#!/bin/bash
# `make demo` as a new user runs it, N times, each in a fresh clone of this repository (HEAD) with
# ../shared beside it: the whole `make demo` wall time (with the .venv install), and the demo's own
# stage times and test top-1 from its report. Usage: benchmarks/fresh_clone_demo.sh [N=3]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "$ROOT/../shared" && pwd)
for i in $(seq 1 "${1:-3}"); do
  d=$(mktemp -d /tmp/demo_fresh_XXXX); git clone -q "$ROOT" "$d/main"; ln -s "$SHARED" "$d/shared"
  start=$(date +%s); (cd "$d/main" && make demo > "$d/make_demo.log" 2>&1); rc=$?; end=$(date +%s)
  echo "run $i: dir $d rc $rc make_demo_total_s $((end - start))"
  grep -a "test top-1" "$d/make_demo.log" | tail -1
  grep -A12 "^## Time" "$d/main/runs/demo/report.md" | grep "|"
done
