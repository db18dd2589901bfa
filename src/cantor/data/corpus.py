"""The symbolic corpus Cantor arranges songs from.

Parsing music21's bundled corpus takes minutes (ABC tunes ~70 ms each, chorales ~0.3 s), so it is parsed once into
a compact index that ships with the package (``corpus_index.json.gz``) and is rebuilt with
``python -m cantor.data.corpus``. Each entry keeps only what arranging needs: note lists per voice, meter, key, the
phase of the first downbeat, and a *tune group* so that every split of the data is disjoint by tune.

Time is stored in ticks of 1/48 quarter note: exact for the duplets, triplets and sixteenths of these collections.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import NamedTuple

TICKS_PER_QUARTER = 48
INDEX_FORMAT_VERSION = 1
CHORALE_VOICES = ("soprano", "alto", "tenor", "bass")

# Collections used. Essen is left out on purpose: its licence is non-commercial, and weights trained on it would
# inherit that. Palestrina/Monteverdi are not melody + harmony music and do not arrange well for a band.
FOLK_COLLECTIONS = ("ryansMammoth", "oneills1850", "airdsAirs", "nottingham-dataset")

# Splits are drawn per tune group (see split_of); test gets the rest.
SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1}

# A melody reused in another piece is detected by a shared run of this many pitch intervals.
TUNE_NGRAM = 16


class Note(NamedTuple):
    """One note of a voice: onset and duration in ticks (1/48 quarter), MIDI pitch.

    A named tuple, not a dataclass: the index holds half a million notes and loads three times faster this way.
    """

    onset: int
    duration: int
    pitch: int


@dataclass(frozen=True)
class Piece:
    """One parsed piece of the corpus.

    ``voices`` maps a voice name to its notes: ``{"melody": [...]}`` for folk tunes, the four ``CHORALE_VOICES``
    for chorales. ``downbeat`` is the tick of the first bar line (non-zero for a pickup); bars then follow every
    ``bar_ticks``.
    """

    piece_id: str
    source: str
    title: str
    tonic_pc: int
    mode: str
    meter: tuple[int, int]
    bar_ticks: int
    beat_ticks: int
    downbeat: int
    voices: dict[str, tuple[Note, ...]]
    tune_group: str

    @property
    def length_ticks(self) -> int:
        """Tick at which the last note ends (0 for a piece without notes, which a sampled piece can be)."""
        return max((n.onset + n.duration for notes in self.voices.values() for n in notes), default=0)

    @property
    def melody(self) -> tuple[Note, ...]:
        return self.voices["melody"] if "melody" in self.voices else self.voices["soprano"]

    @property
    def is_chorale(self) -> bool:
        return self.source == "chorale"


def split_of(tune_group: str) -> str:
    """The split of a tune: a stable hash of its group, so it never depends on the seed or the song count, and a
    tune is in the same split in every data set (audio or symbolic) Cantor builds."""
    fraction = int(hashlib.sha1(tune_group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if fraction < SPLIT_FRACTIONS["train"]:
        return "train"
    if fraction < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["valid"]:
        return "valid"
    return "test"


def load_corpus(path: Path | None = None) -> list[Piece]:
    """Read the corpus index (the packaged one unless ``path`` is given)."""
    if path is None:
        blob = resources.files("cantor.data").joinpath("corpus_index.json.gz").read_bytes()
    else:
        blob = Path(path).read_bytes()
    payload = json.loads(gzip.decompress(blob))
    if payload.get("format_version") != INDEX_FORMAT_VERSION:
        raise ValueError(f"corpus index format {payload.get('format_version')} is not {INDEX_FORMAT_VERSION}")
    return [_piece_from_json(entry) for entry in payload["pieces"]]


def _piece_from_json(entry: dict) -> Piece:
    return Piece(
        piece_id=entry["id"],
        source=entry["source"],
        title=entry["title"],
        tonic_pc=entry["tonic_pc"],
        mode=entry["mode"],
        meter=tuple(entry["meter"]),
        bar_ticks=entry["bar_ticks"],
        beat_ticks=entry["beat_ticks"],
        downbeat=entry["downbeat"],
        voices={name: tuple(Note(*n) for n in notes) for name, notes in entry["voices"].items()},
        tune_group=entry["tune_group"],
    )


def _piece_to_json(piece: Piece) -> dict:
    return {
        "id": piece.piece_id,
        "source": piece.source,
        "title": piece.title,
        "tonic_pc": piece.tonic_pc,
        "mode": piece.mode,
        "meter": list(piece.meter),
        "bar_ticks": piece.bar_ticks,
        "beat_ticks": piece.beat_ticks,
        "downbeat": piece.downbeat,
        "voices": {name: [[n.onset, n.duration, n.pitch] for n in notes] for name, notes in piece.voices.items()},
        "tune_group": piece.tune_group,
    }


# --- parsing music21 scores ------------------------------------------------------------------------------------


def _ticks(quarter_length) -> int:
    return int(round(float(quarter_length) * TICKS_PER_QUARTER))


def _voice_notes(part) -> tuple:
    """Notes of one part, ties merged, grace notes dropped, chords reduced to their top note."""
    notes = []
    for element in part.flatten().stripTies().notes:
        duration = _ticks(element.quarterLength)
        if duration <= 0:
            continue
        pitch = element.pitch.midi if element.isNote else max(p.midi for p in element.pitches)
        notes.append(Note(_ticks(element.offset), duration, pitch))
    notes.sort(key=lambda n: n.onset)
    # Overlaps appear where ABC voices cross or ties straddle repeats; a voice here is monophonic.
    cleaned = []
    for note in notes:
        if cleaned and note.onset < cleaned[-1].onset + cleaned[-1].duration:
            last = cleaned.pop()
            if note.onset > last.onset:
                cleaned.append(Note(last.onset, note.onset - last.onset, last.pitch))
        cleaned.append(note)
    return tuple(cleaned)


def _meter_and_downbeat(part) -> tuple[tuple[int, int], int, int, int]:
    signature = part.recurse().getElementsByClass("TimeSignature").first()
    if signature is None:
        meter, bar_ql, beat_ql = (4, 4), 4.0, 1.0
    else:
        meter = (signature.numerator, signature.denominator)
        bar_ql, beat_ql = signature.barDuration.quarterLength, signature.beatDuration.quarterLength
    bar_ticks, beat_ticks = _ticks(bar_ql), _ticks(beat_ql)
    measures = part.getElementsByClass("Measure")
    padding = _ticks(measures[0].paddingLeft) if len(measures) else 0
    downbeat = (bar_ticks - padding) % bar_ticks if padding else 0
    return meter, bar_ticks, beat_ticks, downbeat


def _parse_score(score, *, piece_id: str, source: str, title: str) -> Piece | None:
    parts = list(score.parts) if score.parts else [score]
    if source == "chorale":
        if len(parts) != 4:
            return None
        voices = {name: _voice_notes(part) for name, part in zip(CHORALE_VOICES, parts, strict=True)}
    else:
        voices = {"melody": _voice_notes(parts[0])}
    if any(len(notes) < 8 for notes in voices.values()):
        return None
    meter, bar_ticks, beat_ticks, downbeat = _meter_and_downbeat(parts[0])
    if bar_ticks <= 0 or beat_ticks <= 0:
        return None
    key = score.analyze("key")
    return Piece(
        piece_id=piece_id,
        source=source,
        title=title,
        tonic_pc=key.tonic.pitchClass,
        mode="minor" if key.mode == "minor" else "major",
        meter=meter,
        bar_ticks=bar_ticks,
        beat_ticks=beat_ticks,
        downbeat=downbeat,
        voices=voices,
        tune_group=piece_id,
    )


def _iter_chorales() -> Iterator[Piece]:
    from music21 import corpus

    for score in corpus.chorales.Iterator(returnType="stream"):
        number = score.metadata.number if score.metadata else None
        piece_id = f"chorale/{score.metadata.corpusFilePath or number}"
        title = (score.metadata.title if score.metadata else None) or piece_id
        try:
            piece = _parse_score(score, piece_id=piece_id, source="chorale", title=title)
        except Exception as error:  # noqa: BLE001 — a malformed corpus file is skipped, and said
            print(f"skipped {piece_id}: {error}", file=sys.stderr)
            continue
        if piece is not None:
            yield piece


def _iter_folk(collection: str) -> Iterator[Piece]:
    from music21 import converter, corpus

    for path in sorted(corpus.getComposer(collection) or _collection_files(collection)):
        try:
            parsed = converter.parse(path)
        except Exception as error:  # noqa: BLE001
            print(f"skipped {path}: {error}", file=sys.stderr)
            continue
        scores = parsed.scores if hasattr(parsed, "scores") else [parsed]
        for index, score in enumerate(scores):
            title = (score.metadata.title if score.metadata else None) or f"{Path(path).stem} {index}"
            number = score.metadata.number if score.metadata and score.metadata.number else index
            piece_id = f"{collection}/{Path(path).stem}/{number}"
            try:
                piece = _parse_score(score, piece_id=piece_id, source=collection, title=title)
            except Exception as error:  # noqa: BLE001
                print(f"skipped {piece_id}: {error}", file=sys.stderr)
                continue
            if piece is not None:
                yield piece


def _collection_files(collection: str) -> list[Path]:
    from music21 import corpus

    root = Path(corpus.__file__).parent / collection
    return sorted(root.glob("*.abc"))


# --- tune groups ----------------------------------------------------------------------------------------------


def _normalised_title(title: str) -> str:
    title = re.sub(r"\(.*?\)", "", title.lower())
    title = re.sub(r"\b(the|a|an|reel|jig|hornpipe|air|march|no|strathspey)\b", "", title)
    return re.sub(r"[^a-z]+", "", title)


def assign_tune_groups(pieces: list[Piece]) -> list[Piece]:
    """Group pieces that share a melody: a run of ``TUNE_NGRAM`` intervals, or (folk) the same title.

    Returns the pieces with ``tune_group`` set to the id of the group's first piece, so splitting by group keeps a
    reused chorale melody (75–87 chorales reuse one) in a single split.
    """
    parent = list(range(len(pieces)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    first_seen: dict[object, int] = {}
    for index, piece in enumerate(pieces):
        pitches = [n.pitch for n in piece.melody]
        intervals = tuple(b - a for a, b in itertools.pairwise(pitches))
        keys: set[object] = {intervals[i : i + TUNE_NGRAM] for i in range(len(intervals) - TUNE_NGRAM + 1)}
        if not piece.is_chorale:
            title = _normalised_title(piece.title)
            if len(title) >= 6:
                keys.add(("title", title))
        for key in keys:
            if key in first_seen:
                union(index, first_seen[key])
            else:
                first_seen[key] = index
    # union() keeps the smaller index as root, so a group is named after its first piece.
    return [replace(piece, tune_group=pieces[find(index)].piece_id) for index, piece in enumerate(pieces)]


def build_corpus_index(out: Path) -> int:
    """Parse the corpus and write the index; returns the number of pieces."""
    pieces: list[Piece] = list(_iter_chorales())
    print(f"chorales: {len(pieces)}", file=sys.stderr)
    for collection in FOLK_COLLECTIONS:
        before = len(pieces)
        pieces.extend(_iter_folk(collection))
        print(f"{collection}: {len(pieces) - before}", file=sys.stderr)
    pieces = assign_tune_groups(pieces)
    payload = {"format_version": INDEX_FORMAT_VERSION, "ticks_per_quarter": TICKS_PER_QUARTER}
    payload["pieces"] = [_piece_to_json(p) for p in pieces]
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), mtime=0))
    tmp.replace(out)
    return len(pieces)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("corpus_index.json.gz")
    print(f"wrote {build_corpus_index(target)} pieces to {target}")
