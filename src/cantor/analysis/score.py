"""A MusicXML score of transcribed notes, of any length, in flat memory.

music21 quantises and notates well, but holds about 20 KB per note: an hour of four stems (~60,000 notes) would
take more than a gigabyte. So the notes go through music21 one stretch of :data:`SEGMENT_MEASURES` measures at a
time, and each stretch's measures are appended, renumbered, to one file per part; the parts are then joined under
one header. A note that crosses a stretch's end is cut there (two notes, not tied): once a minute at most.
"""

from __future__ import annotations

import html
import math
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from cantor.analysis.notes import Note, notes_to_midi
from cantor.files import atomic_path

SEGMENT_MEASURES = 32  # of 4/4 at 120 bpm (the tempo of Cantor's MIDI files): 64 s
QUARTERS_PER_SECOND = 2.0
QUANTISE_DIVISORS = (4, 3)  # sixteenths and triplet eighths


def notes_to_musicxml(tracks: dict[str, tuple[list[Note], int]], target: str | Path, *, title: str) -> Path:
    """``{part name: (notes, program)}`` → ``target`` (MusicXML, written atomically); parts without notes are left
    out, and a score with no notes at all is one empty measure."""
    tracks = {name: track for name, track in tracks.items() if track[0]}
    end = max((note.end for notes, _ in tracks.values() for note in notes), default=0.0)
    segment_seconds = SEGMENT_MEASURES * 4 / QUARTERS_PER_SECOND
    segments = max(1, math.ceil(end / segment_seconds))
    work = Path(tempfile.mkdtemp(prefix="cantor-score-"))
    try:
        parts = {name: _PartWriter(work / f"part-{index}.xml") for index, name in enumerate(tracks)}
        for segment in range(segments):
            start = segment * segment_seconds
            measures = _segment_measures(tracks, start, start + segment_seconds, work / "segment.mid")
            for name, writer in parts.items():
                writer.add(measures.get(name, []), first_number=segment * SEGMENT_MEASURES + 1)
        with atomic_path(target) as tmp, tmp.open("w", encoding="utf-8") as out:
            out.write(_header(title, list(tracks)))
            for index, writer in enumerate(parts.values(), 1):
                out.write(f'  <part id="P{index}">\n')
                writer.copy_to(out)
                out.write("  </part>\n")
            if not parts:
                out.write('  <part id="P1">\n' + _rest_measure(1, with_attributes=True) + "  </part>\n")
            out.write("</score-partwise>\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Path(target)


def _segment_measures(
    tracks: dict[str, tuple[list[Note], int]], start: float, end: float, midi_path: Path
) -> dict[str, list[ET.Element]]:
    """The measures music21 makes of the notes between ``start`` and ``end`` seconds, per part name."""
    import music21
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    clipped = {}
    for name, (notes, program) in tracks.items():
        inside = [
            Note(max(n.start, start) - start, min(n.end, end) - start, n.pitch, n.velocity)
            for n in notes
            if n.end > start and n.start < end
        ]
        clipped[name] = (inside, program, False)
    if not any(notes for notes, _, _ in clipped.values()):
        return {}
    notes_to_midi(clipped).write(str(midi_path))
    score = music21.converter.parse(str(midi_path), quantizePost=True, quarterLengthDivisors=QUANTISE_DIVISORS)
    root = ET.fromstring(GeneralObjectExporter(score).parse())
    names = {part.get("id"): part.findtext("part-name") for part in root.iter("score-part")}
    measures = {}
    for part in root.iter("part"):
        kept = []
        for measure in part.findall("measure"):
            for note in measure.iter("note"):  # they point at the segment's own instrument ids
                for instrument in note.findall("instrument"):
                    note.remove(instrument)
            for barline in measure.findall("barline"):  # a final barline belongs to the last segment only
                measure.remove(barline)
            kept.append(measure)
        measures[names.get(part.get("id"))] = kept[:SEGMENT_MEASURES]
    return measures


class _PartWriter:
    """One part's measures, appended segment by segment to a file, each segment padded to its full length."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.divisions: int | None = None  # the part's last declared divisions per quarter
        path.write_text("")

    def add(self, measures: list[ET.Element], *, first_number: int) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            for offset, measure in enumerate(measures):
                measure.set("number", str(first_number + offset))
                divisions = measure.findtext("attributes/divisions")
                if divisions:
                    self.divisions = int(divisions)
                out.write("    " + ET.tostring(measure, encoding="unicode").strip() + "\n")
            for offset in range(len(measures), SEGMENT_MEASURES):
                fresh = self.divisions is None
                out.write(_rest_measure(first_number + offset, with_attributes=fresh, divisions=self.divisions or 1))
                self.divisions = self.divisions or 1

    def copy_to(self, out) -> None:
        with self.path.open(encoding="utf-8") as source:
            shutil.copyfileobj(source, out)


def _rest_measure(number: int, *, with_attributes: bool, divisions: int = 1) -> str:
    attributes = (
        f"<attributes><divisions>{divisions}</divisions><time><beats>4</beats><beat-type>4</beat-type></time>"
        "<clef><sign>G</sign><line>2</line></clef></attributes>"
        if with_attributes
        else ""
    )
    rest = f'<note><rest measure="yes"/><duration>{4 * divisions}</duration><voice>1</voice></note>'
    return f'    <measure number="{number}">{attributes}{rest}</measure>\n'


def _header(title: str, names: list[str]) -> str:
    parts = "".join(
        f'    <score-part id="P{index}"><part-name>{html.escape(name)}</part-name></score-part>\n'
        for index, name in enumerate(names or ["music"], 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
        '"http://www.musicxml.org/dtds/partwise.dtd">\n'
        '<score-partwise version="4.0">\n'
        f"  <work><work-title>{html.escape(title)}</work-title></work>\n"
        f"  <identification><encoding><software>Cantor (music21 {_music21_version()})</software></encoding>"
        "</identification>\n"
        f"  <part-list>\n{parts}  </part-list>\n"
    )


def _music21_version() -> str:
    import music21

    return music21.__version__
