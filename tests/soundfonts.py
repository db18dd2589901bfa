"""Tiny SoundFont files for tests of preset reading: RIFF structure and preset headers only, no samples."""

from __future__ import annotations

import struct
from pathlib import Path

BLACK_PEARL = Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2")  # Debian's avldrums.lv2-soundfont (make setup)


def _chunk(name: bytes, payload: bytes, *, pad: bool = True) -> bytes:
    padding = b"\0" if pad and len(payload) % 2 else b""
    return name + struct.pack("<I", len(payload)) + payload + padding


def write_preset_headers(path: Path, presets: list[tuple[int, int]], *, pad_odd_chunks: bool = True) -> Path:
    """A SoundFont whose ``phdr`` lists ``(bank, program)`` presets, after an odd-sized sample chunk padded as RIFF
    asks or (``pad_odd_chunks=False``) unpadded, as some SF3 writers leave it."""
    records = b"".join(
        struct.pack("<20sHHHIII", f"preset {n}".encode(), program, bank, n, 0, 0, 0)
        for n, (bank, program) in enumerate(presets)
    )
    records += struct.pack("<20sHHHIII", b"EOP", 0, 0, len(presets), 0, 0, 0)
    info = b"INFO" + _chunk(b"ifil", struct.pack("<HH", 2, 1))
    samples = b"sdta" + _chunk(b"smpl", b"\1\2\3", pad=pad_odd_chunks)
    presets_list = b"pdta" + _chunk(b"phdr", records)
    body = b"sfbk" + b"".join(_chunk(b"LIST", part, pad=pad_odd_chunks) for part in (info, samples, presets_list))
    path.write_bytes(_chunk(b"RIFF", body))
    return path
