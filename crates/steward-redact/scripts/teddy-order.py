#!/usr/bin/env python3
"""Finds the order of the scanner's keywords for Teddy (`TEDDY_ORDER` in src/scanner.rs).

aho-corasick's Teddy (1.1.x, `packed/teddy/generic.rs`) puts keywords into 16 buckets by their
order: the first keyword with a new low-nibble prefix of 3 bytes goes to bucket
`15 - id % 16`, later ones with the same prefix join it. A position of the text is a candidate
for a bucket when each of its next 3 bytes has a low and a high nibble that some keyword of
the bucket has there; each candidate costs a verification of the bucket's keywords. Text that
holds no keyword still raises candidates, and with the rules' own order they were most of the
time spent on prose.

This models that fingerprint over the trigrams of the repository's prose and code (docs/,
README.md, crates/), and swaps keywords at random, keeping a swap when the modelled cost
(candidates and verifications) falls. Run from the repository root:

    python3 crates/steward-redact/scripts/teddy-order.py [iterations]

and paste the printed list into `TEDDY_ORDER`. The order changes no hit (no keyword starts
another), only speed; docs/benchmarks.md has the effect.
"""

import collections
import glob
import random
import re
import sys

BUCKETS = 16
MASK = 3


def keywords():
    """The rules' keywords, deduplicated, in the rules' order."""
    src = open("crates/steward-redact/src/scanner.rs").read()
    generic = re.findall(
        r'"([^"]*)"',
        re.search(r"const GENERIC_KEYWORDS: &\[&str\] = &\[(.*?)\];", src, re.S).group(1),
    )
    rules = src[src.index("const RULES: &[Rule] = &[") :]
    found = []
    for m in re.finditer(r"keywords: (&\[[^\]]*\]|GENERIC_KEYWORDS)", rules):
        listed = generic if m.group(1) == "GENERIC_KEYWORDS" else re.findall(r'"([^"]*)"', m.group(1))
        for keyword in listed:
            if keyword not in found:
                found.append(keyword)
    return found


def trigrams():
    paths = glob.glob("docs/*.md") + ["README.md"] + sorted(glob.glob("crates/**/*.rs", recursive=True))
    text = b"\n".join(open(p, "rb").read() for p in paths)
    return list(collections.Counter(text[i : i + MASK] for i in range(len(text) - MASK + 1)).items())


def cost(order, grams):
    """(candidates, verifications) of Teddy's fingerprint over the trigram counts."""
    buckets = [[] for _ in range(BUCKETS)]
    seen = {}
    for i, keyword in enumerate(order):
        raw = keyword.encode()
        prefix = tuple(b & 0xF for b in raw[:MASK])
        if prefix not in seen:
            seen[prefix] = (BUCKETS - 1) - (i % BUCKETS)
        buckets[seen[prefix]].append(raw)
    tables = []
    for bucket in buckets:
        if not bucket:
            continue
        per_byte = []
        for j in range(MASK):
            low = {k[j] & 0xF for k in bucket}
            high = {k[j] >> 4 for k in bucket}
            per_byte.append(bytes(1 if (x & 0xF) in low and (x >> 4) in high else 0 for x in range(256)))
        tables.append((per_byte, len(bucket)))
    candidates = verifications = 0
    for gram, count in grams:
        for per_byte, size in tables:
            if per_byte[0][gram[0]] and per_byte[1][gram[1]] and per_byte[2][gram[2]]:
                candidates += count
                verifications += count * size
    return candidates, verifications


def score(cv):
    # Rough cycles: a candidate's bookkeeping and a keyword compared.
    return cv[0] * 30 + cv[1] * 8


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    grams = trigrams()
    order = keywords()
    start = cost(order, grams)
    best, best_cost = list(order), start
    random.seed(1)
    for _ in range(iterations):
        candidate = list(best)
        i, j = random.sample(range(len(candidate)), 2)
        candidate[i], candidate[j] = candidate[j], candidate[i]
        c = cost(candidate, grams)
        if score(c) < score(best_cost):
            best, best_cost = candidate, c
    print(f"// rules' order: {start[0]} candidates, {start[1]} verifications; "
          f"this order: {best_cost[0]}, {best_cost[1]}", file=sys.stderr)
    print(", ".join(f'"{k}"' for k in best))


if __name__ == "__main__":
    main()
