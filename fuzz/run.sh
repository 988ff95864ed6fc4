#!/usr/bin/env bash
# Runs mailsim's fuzz targets (cargo-fuzz, libFuzzer), one after another, one job each.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     # default: 30 seconds, every target
#   FUZZ_KEEP_GOING=1 fuzz/run.sh 900 smtp_wire   # a long run: records crashes and goes on
#
# Each target's corpus grows in fuzz/corpus/TARGET (not committed), seeded from the committed
# fuzz/seeds/TARGET. A crash leaves its input in fuzz/artifacts/TARGET/ and makes the script
# fail (unless FUZZ_KEEP_GOING is set); replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a TARGET fuzz/artifacts/TARGET/crash-...
# then add it as a unit test beside the parser (see fuzz/README.md).
#
# cargo-fuzz passes nightly-only flags to rustc; RUSTC_BOOTSTRAP=1 lets a stable toolchain take
# them. No sanitizer: mailsim is safe Rust, so a crash is a panic (debug assertions are on, so
# arithmetic overflow panics too), and without ASan the targets run several times faster.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

seconds="${1:-30}"
shift || true
if (($#)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

flags=(-s none -a)
if ! cargo fuzz build "${flags[@]}" >logs-build.txt 2>&1; then
  cat logs-build.txt >&2
  exit 1
fi

failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" logs
  log="logs/$t.log"
  args=(-print_final_stats=1)
  # A scenario file is longer than libFuzzer's default 4096-octet inputs.
  [ "$t" = scenario_load ] && args+=(-max_len=16384 -timeout=20)
  before=$(find "artifacts/$t" -type f | wc -l)
  start=$(date +%s)
  status=0
  : >"$log"
  # libFuzzer stops at the first crash; with FUZZ_KEEP_GOING the run goes on for the rest of
  # its time (the crash stays in artifacts/). Not -fork: its restarts cost most of the speed.
  while :; do
    left=$((seconds - ($(date +%s) - start)))
    ((left > 0)) || break
    run_status=0
    cargo fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- "${args[@]}" -max_total_time="$left" >>"$log" 2>&1 || run_status=$?
    ((run_status == 0)) && break
    status=$run_status
    [ -n "${FUZZ_KEEP_GOING:-}" ] || break
    (($(find "artifacts/$t" -type f | wc -l) - before < 20)) || break
  done
  took=$(($(date +%s) - start))
  after=$(find "artifacts/$t" -type f | wc -l)
  # The last status line: "#RUNS ... cov: N ft: N corp: N/SIZE ...".
  stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE '^#[0-9]+|cov: [0-9]+|ft: [0-9]+|corp: [0-9]+' | tr '\n' ' ')
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{s += $2} END {if (s) print s}')
  runs=${stats%% *}
  echo "$t: ${took}s, executions ${execs:-${runs#\#}}, ${stats#* }crashes $((after - before)) (log fuzz/$log)"
  if ((status != 0 || after > before)); then
    failed+=("$t")
    grep -E 'panicked at|assertion|Test unit written' "$log" | head -5 | sed 's/^/    /'
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
