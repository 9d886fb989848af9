#!/usr/bin/env bash
# The layers, checked (Docs/ARCHITECTURE.md): C libraries -> DeidCSV (the unsafe CSV module) ->
# DeidEngine (the streaming engine) -> DeidKit (the domain library) -> the thin CLIs. Fails, naming the file and line, when a module
# imports a module that is not below it, or when DeidKit reaches for C (Glibc, Darwin, the C
# modules) or holds pointer code outside the files listed below. `make test` runs it.
#
# The list is what issue 20 moves into an engine module of its own: it may only shrink. A new
# file in DeidKit with `Unsafe`, `withUnsafe`, `Unmanaged` or `unsafeBitCast` fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."

unsafe_allowed=(
  Sources/DeidKit/Pipeline/RecordTransformer.swift
  Sources/DeidKit/Policy/KeyResolver.swift
  Sources/DeidKit/Privacy/PrivacyPass.swift
  Sources/DeidKit/Techniques/NoiseAddition.swift
)

problems=0
problem() { echo "check-layers: $1" >&2; problems=$((problems + 1)); }

# allowed MODULE IMPORTS...: every import in Sources/MODULE is one of IMPORTS.
allowed() {
  local module=$1; shift
  local allowed=" $* "
  while IFS=: read -r file line text; do
    local imported
    imported=$(sed -E 's/^(@[A-Za-z_]+ +)*import +([A-Za-z_]+ +)?([A-Za-z_][A-Za-z0-9_.]*).*/\3/' <<<"$text")
    [[ "$allowed" == *" ${imported%%.*} "* ]] || problem "$file:$line: $module imports $imported, which is not below it"
  done < <(grep -rnE '^(@[A-Za-z_]+ +)*import ' "Sources/$module" --include='*.swift' || true)
}

allowed DeidCSV CCSV CZlib Glibc Darwin Foundation Dispatch Synchronization _Builtin_intrinsics
allowed DeidEngine DeidCSV Foundation Dispatch Crypto Synchronization
allowed DeidKit DeidEngine DeidCSV Foundation Dispatch Crypto GRDB Yams Synchronization
allowed deid DeidKit DeidEngine DeidCSV ArgumentParser Foundation Dispatch Glibc Darwin
allowed deid-sample DeidKit DeidCSV ArgumentParser Foundation Glibc Darwin

# DeidKit: no pointer code outside the listed files.
while IFS=: read -r file line _; do
  listed=0
  for allowedFile in "${unsafe_allowed[@]}"; do [ "$file" = "$allowedFile" ] && listed=1; done
  [ $listed -eq 1 ] || problem "$file:$line: pointer code in DeidKit (it belongs in DeidCSV or the engine)"
done < <(grep -rnE '\b(Unsafe[A-Za-z]*|withUnsafe[A-Za-z]*|Unmanaged|unsafeBitCast|_withUnsafeGuaranteedRef)\b' Sources/DeidKit --include='*.swift' || true)

# A listed file that no longer needs the exception is taken off the list.
for allowedFile in "${unsafe_allowed[@]}"; do
  if ! grep -qE '\b(Unsafe[A-Za-z]*|withUnsafe[A-Za-z]*|Unmanaged|unsafeBitCast|_withUnsafeGuaranteedRef)\b' "$allowedFile" 2>/dev/null; then
    problem "$allowedFile holds no pointer code any more: take it off the list in Scripts/check-layers.sh"
  fi
done

if [ $problems -gt 0 ]; then
  echo "check-layers: $problems problems" >&2
  exit 1
fi
echo "check-layers: the modules import only what is below them; DeidKit's pointer code is in ${#unsafe_allowed[@]} listed files"
