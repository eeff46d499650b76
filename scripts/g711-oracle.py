#!/usr/bin/env python3
"""Writes the G.711 oracle tables that hark-audio's codec tests compare against.

The oracle is CPython 3.11's `audioop` module (C code independent of ours, removed in 3.13), so run
this with Python 3.11:

    python3.11 scripts/g711-oracle.py crates/hark-audio/tests/fixtures/g711

Files written (all little-endian):
    ulaw_decode.bin, alaw_decode.bin   256 x i16: the linear value of each code 0..=255
    ulaw_encode.bin, alaw_encode.bin   65536 x u8: the code of each sample -32768..=32767
"""
import audioop
import os
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
every_sample = struct.pack("<65536h", *range(-32768, 32768))
for name, to_lin, from_lin in (
    ("ulaw", audioop.ulaw2lin, audioop.lin2ulaw),
    ("alaw", audioop.alaw2lin, audioop.lin2alaw),
):
    with open(os.path.join(out, f"{name}_decode.bin"), "wb") as f:
        f.write(to_lin(bytes(range(256)), 2))
    with open(os.path.join(out, f"{name}_encode.bin"), "wb") as f:
        f.write(from_lin(every_sample, 2))
