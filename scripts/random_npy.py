#!/usr/bin/env python3
"""Standard-normal float32 .npy files of one shape, with nothing but the
standard library: inputs for `tileattn run` on a machine without numpy.

Usage: scripts/random_npy.py SHAPE [--seed N] FILE...
SHAPE is comma-separated, e.g. 1,128,4,64 for [batch, seqlen, heads, head_dim]
(the BSHD layout `tileattn run` reads). Each FILE gets its own draws.
"""

import argparse
import array
import random
import sys


def npy_bytes(shape, values):
    """A version-1.0 .npy file: magic, header padded to 64 bytes, data."""
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}"
    # magic (6) + version (2) + header length (2) + header + newline: a multiple of 64.
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    data = array.array("f", values)
    if sys.byteorder == "big":
        data.byteswap()
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data.tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shape", help="comma-separated dimensions, e.g. 1,128,4,64")
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        shape = [int(d) for d in args.shape.split(",")]
    except ValueError:
        ap.error(f"shape `{args.shape}`: expected comma-separated integers")
    if not shape or any(d <= 0 for d in shape):
        ap.error(f"shape `{args.shape}`: every dimension must be positive")
    count = 1
    for d in shape:
        count *= d
    rng = random.Random(args.seed)
    for path in args.files:
        with open(path, "wb") as f:
            f.write(npy_bytes(shape, (rng.gauss(0.0, 1.0) for _ in range(count))))


if __name__ == "__main__":
    main()
