"""Fuzz the audio loader for a bounded time: mutated WAV, FLAC, OGG, M4A and ADTS (AAC) and Opus files and random bytes
must either load (to finite float32 audio of the header's shape) or raise Cantor's own clear error — never crash,
hang or raise anything else. Not a test: it runs for ``--seconds`` and writes what it found to
``benchmarks/results/fuzz_audio.md``.

    .venv/bin/python benchmarks/fuzz_audio.py --seconds 300 --out benchmarks/results/fuzz_audio.md

Mutations (hypothesis drives them and shrinks any failure to a small example): flipped bytes, bytes cut off or
appended, header fields overwritten with extreme values, and whole files of random bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import av
import numpy as np
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cantor.audio.io import load
from cantor.errors import CantorError

sys.path.insert(0, str(Path(__file__).parent))
from _report import header


def seeds() -> dict[str, tuple[str, bytes]]:
    """Small valid files to mutate, with their suffixes: 16-bit WAV, float WAV, FLAC, OGG, mono and 6 channels
    (libsndfile reads these), AAC in M4A and bare (ADTS), and Opus (FFmpeg's decoders read these)."""
    rng = np.random.default_rng(0)
    found = {}
    for name, channels, fmt, subtype in (
        ("wav16", 2, "WAV", "PCM_16"),
        ("wavfloat", 1, "WAV", "FLOAT"),
        ("flac", 2, "FLAC", "PCM_16"),
        ("ogg", 2, "OGG", "VORBIS"),
        ("wav6", 6, "WAV", "PCM_24"),
    ):
        buffer = io.BytesIO()
        soundfile.write(buffer, rng.uniform(-0.5, 0.5, (2000, channels)), 8000, format=fmt, subtype=subtype)
        found[name] = (fmt.lower(), buffer.getvalue())
    for name, codec, rate, muxer in (
        ("m4a", "aac", 8000, "ipod"),
        ("aac", "aac", 8000, "adts"),
        ("opus", "libopus", 48000, "opus"),
    ):
        buffer = io.BytesIO()
        with av.open(buffer, "w", format=muxer) as container:
            stream = container.add_stream(codec, rate=rate, layout="stereo")
            frame = av.AudioFrame.from_ndarray(
                rng.uniform(-0.5, 0.5, (2, 2000)).astype(np.float32), format="fltp", layout="stereo"
            )
            frame.sample_rate = rate
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
        found[name] = (name, buffer.getvalue())
    return found


SEEDS = seeds()
OUTCOMES: Counter = Counter()
CRASHES: list[str] = []


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from([*SEEDS, "random"]))
    if name == "random":
        return name, draw(st.binary(max_size=4096))
    data = bytearray(SEEDS[name][1])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "append", "field"]))
        if kind == "flip" and data:
            position = draw(st.integers(0, len(data) - 1))
            data[position] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "append":
            data += draw(st.binary(max_size=512))
        elif kind == "field" and len(data) > 48:  # a 4-byte field in the header: sizes, rates, channel counts
            position = draw(st.integers(0, 44))
            data[position : position + 4] = draw(
                st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x01\x00\x00\x00"])
            )
    return name, bytes(data)


def check(folder: Path, case: tuple[str, bytes]) -> None:
    name, data = case
    path = folder / f"case.{SEEDS[name][0] if name in SEEDS else 'wav'}"
    path.write_bytes(data)
    try:
        audio, rate = load(path)
    except CantorError:
        OUTCOMES["clear error"] += 1
        return
    except Exception as error:  # noqa: BLE001 — the point of fuzzing: anything else is a finding
        OUTCOMES["crash"] += 1
        CRASHES.append(f"{name}, {len(data)} bytes: {type(error).__name__}: {error}"[:300])
        return
    assert audio.dtype.is_floating_point and rate > 0 and bool(audio.isfinite().all()), "loaded non-finite audio"
    OUTCOMES["loaded"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    started = time.monotonic()

    @settings(max_examples=200, deadline=5000, database=None, suppress_health_check=list(HealthCheck))
    @given(mutated())
    def fuzz(case):
        check(folder, case)

    while time.monotonic() - started < args.seconds:  # rounds of 200 fresh random cases until the time is up
        try:
            fuzz()
        except Exception as error:  # noqa: BLE001 — a hypothesis failure (a hang, a non-finite load) is reported
            CRASHES.append(f"hypothesis stopped: {type(error).__name__}: {str(error)[:300]}")
            break
    elapsed = time.monotonic() - started
    cases = sum(OUTCOMES.values())
    lines = [header("Fuzzing the audio loader")]
    lines.append(f"- {cases} cases in {elapsed:.0f} s; seeds: {', '.join(SEEDS)} and random bytes")
    lines.append("")
    lines.append("| outcome | cases |")
    lines.append("|---|---|")
    lines += [f"| {outcome} | {count} |" for outcome, count in OUTCOMES.most_common()]
    lines.append("")
    lines.append("Crashes (anything but Cantor's clear errors): " + ("none." if not CRASHES else ""))
    lines += [f"- {crash}" for crash in CRASHES[:20]]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"outcomes": OUTCOMES, "crashes": CRASHES}, indent=1))
    print(f"wrote {args.out}: {dict(OUTCOMES)}", file=sys.stderr)


if __name__ == "__main__":
    main()
