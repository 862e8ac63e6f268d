#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench --bench operations` run as Markdown tables, each
operation as a ratio to the floor measured in the same run. Reads criterion's estimates under
target/criterion; prints nothing for benchmarks that did not run."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def median(name):
    path = root / name / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


ROWS = [
    # (operation, benchmark, floor benchmark)
    ("GenerateDataKey, caller buffer, ChaCha", "generate_data_key/in_chacha", "generate_data_key/floor_chacha"),
    ("GenerateDataKey, typed request, ChaCha", "generate_data_key/typed_chacha", "generate_data_key/floor_chacha"),
    ("GenerateDataKey, owned, ChaCha", "generate_data_key/owned_chacha", "generate_data_key/floor_chacha"),
    ("GenerateDataKey, 10-pair context, ChaCha", "generate_data_key/in_chacha_ctx10", "generate_data_key/floor_chacha_ctx10"),
    ("GenerateDataKey, owned, OS RNG", "generate_data_key/owned_os", "generate_data_key/floor_os"),
    ("ring: data key + seal, OS RNG", "generate_data_key/ring_os", "generate_data_key/floor_os"),
    ("GenerateDataKey, caller buffer, ChaCha, ring engine", "generate_data_key/in_chacha_ring_engine", "generate_data_key/floor_chacha"),
    ("Decrypt, caller buffer", "decrypt/in_chacha", "decrypt/floor"),
    ("Decrypt, owned", "decrypt/owned_chacha", "decrypt/floor"),
    ("ring: open", "decrypt/ring", "decrypt/floor"),
    ("GenerateDataKeyWithoutPlaintext, caller buffer", "without_plaintext/in_chacha", "without_plaintext/floor_chacha"),
    ("Encrypt (44 bytes), caller buffer", "encrypt/in_chacha", "encrypt/floor_chacha"),
]

print("| operation | median | floor | ratio |")
print("|---|---:|---:|---:|")
for label, bench, floor in ROWS:
    m, f = median(bench), median(floor)
    if m is None or f is None:
        continue
    print(f"| {label} | {fmt(m)} | {fmt(f)} | {m / f:.2f}× |")
re = median("re_encrypt/in_chacha")
d, e = median("decrypt/floor"), median("encrypt/floor_chacha")
if re and d and e:
    print(f"| ReEncrypt, caller buffer | {fmt(re)} | {fmt(d + e)} (Decrypt + Encrypt floors) | {re / (d + e):.2f}× |")

print()
print("| against what a user would write instead | median | ring: data key + seal, OS RNG | ratio |")
print("|---|---:|---:|---:|")
ring = median("generate_data_key/ring_os")
for label, bench in (
    ("GenerateDataKey, owned, `DefaultRng`", "generate_data_key/owned_default"),
    ("GenerateDataKey, owned, `DefaultRng`, ring engine", "generate_data_key/owned_default_ring_engine"),
    ("GenerateDataKey, owned, OS RNG", "generate_data_key/owned_os"),
):
    m = median(bench)
    if m and ring:
        print(f"| {label} | {fmt(m)} | {fmt(ring)} | {m / ring:.2f}× |")

print()
print("| AES-256-GCM seal, cached key | 32 bytes | vs ring | 1 MiB | vs ring |")
print("|---|---:|---:|---:|---:|")
r32, r1m = median("aes_gcm_32/ring"), median("aes_gcm_1048576/ring")
for label, bench in (
    ("`aes-gcm` (default build)", "aes_gcm"),
    ("`VersionCipher`, aes-gcm engine", "version_cipher_aes_gcm"),
    ("`VersionCipher`, ring engine", "version_cipher_ring"),
    ("ring", "ring"),
    ("aws-lc-rs", "aws_lc_rs"),
):
    a, b = median(f"aes_gcm_32/{bench}"), median(f"aes_gcm_1048576/{bench}")
    if a and b and r32 and r1m:
        gib = (1 << 20) / b  # bytes per ns = GB/s
        print(f"| {label} | {fmt(a)} | {a / r32:.2f}× | {gib * 1e9 / (1 << 30):.1f} GiB/s | {b / r1m:.2f}× |")

print()
print("| from two threads, one provider | 1 thread | 2 threads | throughput, 2 vs 1 |")
print("|---|---:|---:|---:|")
for label, bench in (("GenerateDataKey, caller buffer", "generate"), ("floor (no shared state)", "floor")):
    one, two = median(f"threads/{bench}/1"), median(f"threads/{bench}/2")
    if one and two:
        print(f"| {label} | {fmt(one)} per call | {fmt(two)} per call | {one / two:.2f}× |")

print()
print("| NumberOfBytes | GenerateDataKey | floor | ratio |")
print("|---:|---:|---:|---:|")
for n in (1, 32, 256, 1024):
    m, f = median(f"scaling_bytes/in/{n}"), median(f"scaling_bytes/floor/{n}")
    if m and f:
        print(f"| {n} | {fmt(m)} | {fmt(f)} | {m / f:.2f}× |")

print()
print("| context pairs | GenerateDataKey | vs 0 pairs |")
print("|---:|---:|---:|")
base = median("scaling_context/in/0")
for n in (0, 1, 10, 100):
    m = median(f"scaling_context/in/{n}")
    if m and base:
        print(f"| {n} | {fmt(m)} | {m / base:.2f}× |")

print()
print("| keys in the provider | GenerateDataKey (hot key) | lookup (hot key) | lookup (a different key each call) |")
print("|---:|---:|---:|---:|")
g1, h1, s1 = (median(f"scaling_keys/{b}/1") for b in ("generate_hot", "lookup_hot", "lookup_spread"))
for n in (1, 1000, 1000000):
    g, h, s = (median(f"scaling_keys/{b}/{n}") for b in ("generate_hot", "lookup_hot", "lookup_spread"))
    if g and h and s and g1 and h1 and s1:
        print(f"| {n:,} | {fmt(g)} ({g / g1:.2f}×) | {fmt(h)} ({h / h1:.2f}×) | {fmt(s)} ({s / s1:.2f}×) |")
