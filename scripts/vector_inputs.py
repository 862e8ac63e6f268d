"""What the golden-vector input scripts share (scripts/instance_vectors.py,
scripts/export_vectors.py): deterministic bytes and IDs from labels, so that a vector's inputs
are the same every time the script runs."""
import hashlib


def stream(label, n):
    """n bytes of SHA-256 in counter mode over `label`."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:n]


def uuid4(label):
    """A version-4 UUID, lowercase, from the bytes of `label`."""
    b = bytearray(stream("uuid/" + label, 16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
