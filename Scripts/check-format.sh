#!/usr/bin/env bash
# Formatting, checked: every Swift file is as the toolchain's `swift format` (with the checked-in
# .swift-format: 4 spaces, lines of 120) writes it. Fails naming the files that are not, and the
# command that formats them. `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Sources Tests Fuzz Benchmarks/deid-bench Examples Package.swift)
copy=$(mktemp -d "${TMPDIR:-/tmp}/check-format-XXXXXX")
trap 'rm -rf "$copy"' EXIT
cp .swift-format "$copy/"
for path in "${paths[@]}"; do
  mkdir -p "$copy/$(dirname "$path")"
  cp -R "$path" "$copy/$path"
done
(cd "$copy" && swift format format --in-place --recursive --parallel "${paths[@]}")
unformatted=()
while IFS= read -r file; do
  cmp -s "$file" "$copy/$file" || unformatted+=("$file")
done < <(find "${paths[@]}" -name '*.swift' | sort)
if [ ${#unformatted[@]} -gt 0 ]; then
  printf 'check-format: not formatted: %s\n' "${unformatted[@]}" >&2
  echo "check-format: run: swift format format --in-place --recursive ${paths[*]}" >&2
  exit 1
fi
echo "check-format: every Swift file is formatted (swift format, .swift-format)"
