#!/usr/bin/env bash
# The layers, checked (Docs/ARCHITECTURE.md): C libraries -> DeidCSV (the unsafe CSV module) ->
# DeidEngine (the streaming engine) -> DeidKit (the domain library) -> the thin CLIs. Fails,
# naming the file and line, when a module imports a module that is not below it, or when
# DeidKit reaches for C (Glibc, Darwin, the C modules) or holds pointer code, or when one of
# DeidKit's folders uses a folder above it (Scripts/check-folders.py), or when a file grows past
# 600 lines in DeidKit or 800 in DeidCSV and DeidEngine. `make test` runs it.
#
# DeidKit holds no pointer code at all: `Unsafe...`, `withUnsafe...`, `Unmanaged`, `unsafeBitCast`
# belong in DeidCSV or DeidEngine, each fast path beside its slow twin and a test that they agree.
set -euo pipefail
cd "$(dirname "$0")/.."

problems=0
problem() { echo "check-layers: $1" >&2; problems=$((problems + 1)); }

# allowed MODULE IMPORTS...: every import in Sources/MODULE (or the directory MODULE) is one
# of IMPORTS.
allowed() {
  local module=$1; shift
  local directory=Sources/$module
  [ -d "$directory" ] || directory=$module
  local allowed=" $* "
  while IFS=: read -r file line text; do
    local imported
    imported=$(sed -E 's/^(@[A-Za-z_]+ +)*import +([A-Za-z_]+ +)?([A-Za-z_][A-Za-z0-9_.]*).*/\3/' <<<"$text")
    [[ "$allowed" == *" ${imported%%.*} "* ]] || problem "$file:$line: $module imports $imported, which is not below it"
  done < <(grep -rnE '^(@[A-Za-z_]+ +)*import ' "$directory" --include='*.swift' || true)
}

allowed DeidCSV CCSV CZlib Glibc Darwin Foundation Dispatch Synchronization _Builtin_intrinsics
allowed DeidEngine DeidCSV Foundation Dispatch Crypto Synchronization
allowed DeidKit DeidEngine DeidCSV Foundation Dispatch Crypto GRDB Yams Synchronization
allowed deid DeidKit DeidCSV ArgumentParser Foundation Dispatch Glibc Darwin
allowed deid-sample DeidKit DeidCSV ArgumentParser Foundation Glibc Darwin
# The library example uses the DeidKit product alone (and is built without package access).
allowed Examples/publish DeidKit Foundation

# DeidKit: no pointer code.
while IFS=: read -r file line _; do
  problem "$file:$line: pointer code in DeidKit (it belongs in DeidCSV or DeidEngine)"
done < <(grep -rnE '\b(Unsafe[A-Za-z]*|withUnsafe[A-Za-z]*|Unmanaged|unsafeBitCast|_withUnsafeGuaranteedRef)\b' Sources/DeidKit --include='*.swift' || true)

# Files stay readable: at most 600 lines in DeidKit, 800 in DeidCSV and DeidEngine.
for limit_dir in "DeidKit 600" "DeidCSV 800" "DeidEngine 800"; do
  read -r module limit <<<"$limit_dir"
  while read -r count file; do
    [ "$file" = total ] && continue
    [ "$count" -le "$limit" ] || problem "$file: $count lines, over $module's $limit: split it where its parts meet"
  done < <(find "Sources/$module" -name '*.swift' -print0 | xargs -0 wc -l)
done

# DeidKit's folders are layers too (Scripts/check-folders.py).
python3 Scripts/check-folders.py || problems=$((problems + 1))

if [ $problems -gt 0 ]; then
  echo "check-layers: $problems problems" >&2
  exit 1
fi
echo "check-layers: the modules import only what is below them; DeidKit holds no pointer code; no file is too long"
