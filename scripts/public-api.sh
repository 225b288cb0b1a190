#!/usr/bin/env bash
# The public API of every library crate, one item per line in api/<crate>.txt, so that a change
# to what the libraries expose shows up in review as a diff of those files.
#
#   bash scripts/public-api.sh           # rewrite api/*.txt from the code
#   bash scripts/public-api.sh --check   # fail, showing the diff, if the code and api/*.txt differ
#
# rustdoc writes JSON only as an unstable option; RUSTC_BOOTSTRAP=1 unlocks it on the stable
# toolchain for this one build, in a target directory of its own so the normal build's cache is
# not invalidated. If rustdoc's JSON format changes, scripts/public_api.py fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

CRATES=(steward-core steward-consent steward-logs steward-retention steward steward-store steward-redact steward-tower)
TARGET="${CARGO_TARGET_DIR:-target}/public-api"
OUT=api
if [ "${1:-}" = "--check" ]; then
    OUT="$(mktemp -d)"
    trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT"

for crate in "${CRATES[@]}"; do
    [ -d "crates/$crate" ] || continue
    RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$TARGET" cargo rustdoc -q -p "$crate" --lib --all-features \
        -- -Z unstable-options --output-format json
    python3 scripts/public_api.py "$TARGET/doc/${crate//-/_}.json" >"$OUT/$crate.txt"
done

if [ "${1:-}" = "--check" ]; then
    if ! diff -ru api "$OUT"; then
        echo "the public API changed (diff above: - is api/, + is the code);" \
            "if that is intended, run bash scripts/public-api.sh and commit api/" >&2
        exit 1
    fi
fi
