#!/usr/bin/env bash
# Fuzzes each target of Fuzz/deid-fuzz for SECONDS seconds (default 60) with libFuzzer and
# AddressSanitizer: `make fuzz` (SECONDS=60), and a short smoke run in `make test` (10).
# Inputs found are kept in .build-fuzz/corpus/TARGET (the seed corpus in Fuzz/corpus is not
# changed); a finding is saved in .build-fuzz/findings/TARGET/ and makes this script fail: keep
# it as a regression input in Fuzz/corpus/TARGET once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets="${FUZZ_TARGETS:-csv gzip policy hierarchy spool}"
scratch=.build-fuzz
# swiftc keeps only the last of several -sanitize= flags, and SwiftPM passes one per sanitizer:
# without the combined flag after them, the Swift code would have AddressSanitizer but no
# coverage, and libFuzzer would mutate blind.
swift build -c release --product deid-fuzz --scratch-path "$scratch" \
  --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xswiftc -DDEID_FUZZING 2>&1 | tail -n 1
# Coverage instrumentation must be there (sections __sancov_* in the reader's objects).
if command -v objdump >/dev/null \
  && [ "$(objdump -h "$scratch"/release/DeidCSV.build/CSVReader.swift.o | grep -c sancov || true)" -eq 0 ]; then
  echo "Fuzz/run.sh: the Swift code was built without coverage instrumentation" >&2
  exit 1
fi
binary="$scratch/release/deid-fuzz"
status=0
passed=0
failed=0
for target in $targets; do
  mkdir -p "$scratch/corpus/$target" "$scratch/findings/$target"
  log="$scratch/$target.log"
  set +e
  # Swift's own crash backtracer is off: it reads memory AddressSanitizer watches.
  DEID_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:malloc_context_size=5 "$binary" "$scratch/corpus/$target" "Fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -print_funcs=0 \
    -artifact_prefix="$scratch/findings/$target/" >"$log" 2>&1
  code=$?
  set -e
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  findings=$(find "$scratch/findings/$target" -type f | wc -l)
  echo "fuzz $target: $runs executions in ${seconds}s, $findings findings (corpus $(ls "$scratch/corpus/$target" | wc -l) inputs)"
  if [ "$code" -ne 0 ] || [ "$findings" -ne 0 ]; then
    status=1
    failed=$((failed + 1))
    echo "fuzz $target: FAILED (exit $code); the log's end:" >&2
    tail -n 40 "$log" >&2
  else
    passed=$((passed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
exit $status
