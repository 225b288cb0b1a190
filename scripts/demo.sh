#!/usr/bin/env bash
# The README demo: the whole story with the `steward` command on the embedded store, in a
# fresh temporary directory (removed at the end). Customers' requests are sealed and stored,
# a credential in one of them redacted first; a steward opens one for troubleshooting
# (audited) and is refused for marketing (exit 3, audited too); a shared-model training export
# takes only what consent at collection allows, encrypted to the pipeline's age recipient;
# Ada keeps a signed copy of her consent receipt and verifies it offline; two relationships end
# and counsel places a legal hold on one customer's data; the sweep plan
# looks ahead, an execution at a chosen instant is refused, and once the deletion window has
# passed the sweep runs at now: it deletes the records and shreds the keys of the customer
# without a hold, and the hold keeps the other's; the audit chain and the fact log verify
# against a signed checkpoint; Ben gets a copy of his data, and his erasure waits behind the hold;
# a consent row edited in steward.db outside Steward is caught.
#
# Everything runs under scripts/demo-policy.toml: the bundled policy with a five-second
# deletion window, so the demo waits past the window instead of sweeping "in the future".
#
# Run: bash scripts/demo.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/steward-demo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# Everything happens in the temporary directory: the store is ./store there.
cd "$WORK"
export STEWARD_STORE=store
# The demo makes its own keys and uses the embedded store: no key and no PostgreSQL server may
# come from the caller's environment.
unset STEWARD_MASTER_KEY STEWARD_AUDIT_KEY STEWARD_MASTER_KEY_ID STEWARD_POSTGRES

steward() {
    cargo run -q --manifest-path "$ROOT/Cargo.toml" -p steward-cli -- \
        --policy "$ROOT/scripts/demo-policy.toml" "$@"
}
# Prints the command, then runs it.
show() {
    printf '\n$ steward %s\n' "$*"
    steward "$@"
}
section() { printf '\n== %s\n' "$*"; }

ADA=0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01
BEN=0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02
# A dry run may look ahead: a month from now (GNU date, then BSD date).
AHEAD="$(date -u -d '+31 days' +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
    date -u -v+31d +%Y-%m-%dT%H:%M:%SZ)"
# When counsel is to review the hold: a quarter from now.
REVIEW_BY="$(date -u -d '+90 days' +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
    date -u -v+90d +%Y-%m-%dT%H:%M:%SZ)"

section "A new store: steward.db and its keys in ./store of a new directory (no server)"
show init

section "An admin puts a data steward on the roster (logs.access: a select few)"
show roster add --steward sam.steward --admin dana.admin

section "Ada and Ben become customers; Ada's first request is sealed before she opts in"
show customer start --customer "$ADA"
show customer start --customer "$BEN"
cat >before.jsonl <<JSONL
{"customer": "$ADA", "body": "Summarize my repo (before opting in)"}
JSONL
show ingest before.jsonl

section "Ada opts in to shared training in her account settings (training.shared)"
show consent set --customer "$ADA" --level shared --actor customer --channel account-settings
show consent history --customer "$ADA"

section "Ada keeps a signed copy of her consent receipt, which anyone verifies offline (docs/receipts.md)"
show receipt issue --customer "$ADA" --out ada-receipts.json
# The key to publish: its id goes to standard error, the key itself to standard output.
printf '\n$ steward receipt public-key\n'
RECEIPT_KEY="$(steward receipt public-key)"
echo "$RECEIPT_KEY"
show receipt verify ada-receipts.json --public-key "$RECEIPT_KEY"

section "Requests pass the proxy: secrets redacted, each sealed under the consent in force when it was made"
cat >requests.jsonl <<JSONL
{"customer": "$ADA", "body": "Refactor my parser to use iterators"}
{"customer": "$BEN", "body": "Why does my build fail with E0502?"}
{"customer": "$ADA", "body": {"prompt": "Write tests for the tokenizer", "model": "coder-1"}}
{"customer": "$ADA", "body": "Why does OPENAI_API_KEY=sk-proj-575YX8XM5mSLFy5UBIHEYeD7p4Zdl-AK6j0KgodkDINzNlxICAbaG8wy1JZirLnq get a 401? (a fake key: sealed as a marker, never as itself)"}
JSONL
printf '\n$ steward ingest requests.jsonl\n'
# The table is kept to find Ben's record, and shown before the summary steward wrote to standard
# error after it: through `| tee` the summary would race the table to the terminal.
steward ingest requests.jsonl >ingested.txt 2>ingest-summary.txt || {
    cat ingest-summary.txt >&2
    exit 1
}
cat ingested.txt
cat ingest-summary.txt >&2
BENS_RECORD="$(awk -v customer="$BEN" '$2 == customer { print $1; exit }' ingested.txt)"

section "The steward opens Ben's request for troubleshooting: plaintext after the audit entry"
show open --record "$BENS_RECORD" --purpose troubleshooting --ticket INC-2041 --steward sam.steward

section "The same steward asks again for marketing: refused, and the refusal is audited"
status=0
show open --record "$BENS_RECORD" --purpose marketing --ticket INC-2041 --steward sam.steward ||
    status=$?
if [ "$status" -ne 3 ]; then
    echo "expected exit 3 (denied by the policy), got $status" >&2
    exit 1
fi
echo "(exit $status: denied by the policy)"

section "A shared-model training job: only records whose consent at collection allows it, secrets redacted, encrypted to the pipeline's age key"
# The training pipeline's public key (age X25519); only its identity decrypts the file.
PIPELINE=age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
show export training --scope shared --out shared.jsonl.age --recipient "$PIPELINE"
printf '\n$ head -c 21 shared.jsonl.age\n'
head -c 21 shared.jsonl.age
printf '\n\n$ cat shared.jsonl.age.manifest.jsonl\n'
cat shared.jsonl.age.manifest.jsonl

section "Ada's and Ben's contracts end (logs.retention); counsel places a legal hold on Ben's data"
show customer end --customer "$ADA"
show customer end --customer "$BEN"
show hold place --customer "$BEN" --reason "CASE-2026-17 litigation hold" --by counsel.kim \
    --review-by "$REVIEW_BY"

section "A dry run may look ahead: the plan for a month from now (nothing is deleted)"
show sweep --plan --at "$AHEAD"

section "Deleting and shredding cannot be undone: an execution at a chosen instant is refused"
status=0
show sweep --execute --at "$AHEAD" || status=$?
if [ "$status" -ne 2 ]; then
    echo "expected exit 2 (execution runs at now), got $status" >&2
    exit 1
fi
echo "(exit $status: nothing was deleted)"

section "Past the demo policy's 5-second window, the sweep runs at now: the hold keeps Ben's data"
sleep 6
show sweep --execute
show hold list
status=0
show open --record "$BENS_RECORD" --purpose troubleshooting --ticket INC-2041 --steward sam.steward ||
    status=$?
if [ "$status" -ne 3 ]; then
    echo "expected exit 3 (a hold keeps data, it permits no opening), got $status" >&2
    exit 1
fi
echo "(exit $status: a hold only keeps data; past the relationship it serves nothing)"

section "Ben asks for a copy of his data (law.access) and for its erasure (law.erasure)"
# The law above the policy: a copy even after the relationship ended, audited first. The bundle
# is plaintext here for the demo; a real one goes to the customer's age key (--recipient).
show subject export --customer "$BEN" --request DSR-2026-0042 --verified-by dana.privacy \
    --out ben.bundle.json --dangerous-plaintext
printf '\n$ head -c 120 ben.bundle.json\n'
head -c 120 ben.bundle.json
printf '\n'
status=0
show subject erase --customer "$BEN" --request DSR-2026-0043 --verified-by dana.privacy ||
    status=$?
if [ "$status" -ne 2 ]; then
    echo "expected exit 2 (the hold keeps the erasure pending), got $status" >&2
    exit 1
fi
echo "(exit $status: nothing was deleted; the request is pending until the hold is released)"
show subject list

section "The audit trail: an HMAC chain, signed and verified"
show audit checkpoint
show audit verify

section "A DBA raises Ada's consent to open-weight in steward.db, outside Steward"
python3 - store/steward.db <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
edited = db.execute(
    "UPDATE fact_log SET event = replace(event, '\"level\":\"shared\"', '\"level\":\"open-weight\"')"
    " WHERE event LIKE '%\"kind\":\"consent\"%' AND event LIKE '%\"level\":\"shared\"%'"
).rowcount
db.commit()
print(f"(edited {edited} consent entry in the fact log)")
PY
status=0
show audit verify || status=$?
if [ "$status" -ne 1 ]; then
    echo "expected exit 1 (the fact log does not verify), got $status" >&2
    exit 1
fi
echo "(exit $status: the store serves nothing until this is resolved)"
status=0
show consent history --customer "$ADA" || status=$?
if [ "$status" -ne 1 ]; then
    echo "expected exit 1 (a store whose fact log does not verify serves nothing), got $status" >&2
    exit 1
fi
echo "(exit $status: nothing is decided from facts that do not verify)"
