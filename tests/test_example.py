"""The bundled example is what the README says it is: a 30-second test-split song, exact stems, under 5 MB."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile

from cantor.data.corpus import split_of

EXAMPLE = Path(__file__).parent.parent / "examples" / "band-example"


def test_bundled_example_is_complete_and_exact():
    record = json.loads((EXAMPLE / "song.json").read_text())
    assert record["split"] == "test" and split_of(record["source"]["tune_group"]) == "test"
    assert sum(p.stat().st_size for p in EXAMPLE.iterdir()) < 5_000_000
    mixture, rate = soundfile.read(EXAMPLE / "mixture.flac", dtype="float64")
    assert rate == 44100 and mixture.shape == (30 * 44100, 2)
    stems = [
        soundfile.read(EXAMPLE / f"{name}.flac", dtype="float64")[0] for name in ("drums", "bass", "melody", "other")
    ]
    assert np.array_equal(sum(stems), mixture)
    midi = pretty_midi.PrettyMIDI(str(EXAMPLE / "notes.mid"))
    assert {i.name: len(i.notes) for i in midi.instruments} == {
        name: info["note_count"] for name, info in record["stems"].items()
    }
