#!/usr/bin/env python3
"""Independent generator of the record format v2 known-answer vectors.

Written from docs/record-format.md alone, with the `cryptography` package (not ring), so
that the Rust implementation is checked against a second implementation of the format.
Version 2 is version 1 with byte 7 (reserved, zero, in v1) naming the redaction: 0 not
scanned, n scanned by secret rule set n. Run `python3 record_v2.py > record-v2.json` to regenerate; the Rust unit test
`session::tests::known_answer_vectors_match_exactly` checks every vector byte for byte.
"""
import json
import struct
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHMS = {"aes-256-gcm": (1, AESGCM), "chacha20-poly1305": (2, ChaCha20Poly1305)}
CONSENT = {"none": 0, "private": 1, "shared": 2, "open-weight": 3}


def hkdf(salt, ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def record(v):
    code, aead = ALGORITHMS[v["algorithm"]]
    data_key = bytes.fromhex(v["data_key"])
    salt = bytes.fromhex(v["salt"])
    customer = uuid.UUID(v["customer"]).bytes
    record_id = uuid.UUID(v["record_id"]).bytes
    version = struct.pack(">I", v["key_version"])
    binding = bytes([code]) + customer + version
    session_key = hkdf(salt, data_key, b"steward-logs/v1/record-key" + binding, 32)
    commitment = hkdf(salt, data_key, b"steward-logs/v1/key-commitment" + binding, 32)
    nonce = b"\0\0\0\0" + struct.pack(">Q", v["counter"])
    body = bytes.fromhex(v["body"])
    header = (
        b"STWL"
        + bytes([2, code, CONSENT[v["consent"]], v["redaction"]])
        + record_id
        + customer
        + version
        + struct.pack(">q", v["created_at_nanos"])
        + salt
        + nonce
        + commitment
    )
    assert len(header) == 128
    sealed = aead(session_key).encrypt(nonce, body, header)
    return dict(v, commitment=commitment.hex(), record=(header + sealed).hex())


VECTORS = [
    {
        "name": "aes-256-gcm, empty body, first record of a session",
        "algorithm": "aes-256-gcm",
        "data_key": bytes(range(32)).hex(),
        "salt": bytes([0xA5] * 32).hex(),
        "customer": "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10",
        "record_id": "01936f0e-8f2a-7b3c-9d4e-5f6a7b8c9d0e",
        "key_version": 1,
        "created_at_nanos": 1741132800123456789,
        "consent": "none",
        "counter": 0,
        "redaction": 0,
        "body": "",
    },
    {
        "name": "aes-256-gcm, short body, version 3, second record",
        "algorithm": "aes-256-gcm",
        "data_key": bytes(range(32, 64)).hex(),
        "salt": bytes(range(100, 132)).hex(),
        "customer": "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10",
        "record_id": "01936f0e-8f2a-7b3c-9d4e-5f6a7b8c9d0f",
        "key_version": 3,
        "created_at_nanos": 1748770200000000000,
        "consent": "shared",
        "counter": 1,
        "redaction": 1,
        "body": b'{"prompt":"fix my build"}'.hex(),
    },
    {
        "name": "chacha20-poly1305, 64-byte body, last counter of a 2^32 session",
        "algorithm": "chacha20-poly1305",
        "data_key": bytes([0xFF] * 32).hex(),
        "salt": bytes(32).hex(),
        "customer": "7f000000-0000-4000-8000-000000000001",
        "record_id": "01936f0e-8f2a-7b3c-9d4e-5f6a7b8c9d10",
        "key_version": 4294967295,
        "created_at_nanos": -1,
        "consent": "open-weight",
        "counter": 2**32 - 1,
        "redaction": 255,
        "body": bytes(range(64)).hex(),
    },
]

if __name__ == "__main__":
    print(json.dumps({"format_version": 2, "vectors": [record(v) for v in VECTORS]}, indent=2))
