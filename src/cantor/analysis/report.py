"""Writing an :class:`~cantor.inference.analyze.Analysis`: JSON, MIDI, MusicXML and an HTML report.

The report is one self-contained page (images inlined as PNG data, no scripts, no network), so it opens offline
and can be mailed around. :meth:`~cantor.inference.analyze.Analyzer.analyze_file` writes these files, beside the
stems, into a hidden staging folder that becomes the output folder only when all of them are complete.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection

from cantor.analysis.notes import notes_to_midi
from cantor.analysis.score import notes_to_musicxml

if TYPE_CHECKING:
    from cantor.analysis.sections import Sections
    from cantor.inference.analyze import Analysis, StemAnalysis

OUTPUT_FILES = ("analysis.json", "notes.mid", "score.musicxml", "report.html")
_SECTION_COLOURS = plt.get_cmap("tab10").colors


def write_results(analysis: Analysis, folder: Path, *, title: str) -> None:
    """The :data:`OUTPUT_FILES` of ``analysis`` into an existing (staging) folder: :meth:`Analyzer.analyze_file`
    calls this inside the folder it stages."""
    (folder / "analysis.json").write_text(json.dumps({"title": title, **analysis.to_dict()}, indent=1) + "\n")
    tracks = {name: (stem.notes, stem.program, False) for name, stem in analysis.stems.items() if stem.pitched}
    notes_to_midi(tracks).write(str(folder / "notes.mid"))
    parts = {name: (notes, program) for name, (notes, program, _) in tracks.items()}
    notes_to_musicxml(parts, folder / "score.musicxml", title=title)
    (folder / "report.html").write_text(render_report(analysis, title))


def render_report(analysis: Analysis, title: str) -> str:
    rows = []
    for name, stem in analysis.stems.items():
        top = ", ".join(f"{i['name']} ({i['probability']:.0%})" for i in stem.instruments)
        f0 = stem.pitch.summary() if stem.pitch is not None else {}
        pitch = f"median {f0['median_hz']} Hz, range {' – '.join(f0['range'])}" if f0.get("median_hz") else "—"
        rows.append(
            f"<tr><th>{html.escape(name)}</th><td>{html.escape(stem.family)} ({stem.family_probability:.0%})</td>"
            f"<td>{html.escape(top)}</td><td>{len(stem.notes)}</td><td>{html.escape(pitch)}</td></tr>"
        )
    figures = "\n".join(
        f"<section><h2>{html.escape(name)} — {html.escape(stem.family)}</h2>"
        f'<img alt="spectrogram, piano roll and sections of {html.escape(name)}" '
        f'src="data:image/png;base64,{_stem_figure(stem, analysis)}"></section>'
        for name, stem in analysis.stems.items()
    )
    sections = " · ".join(f"{s['label']} {s['start']:.1f}–{s['end']:.1f} s" for s in analysis.sections.to_dict())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cantor analysis — {html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} th, td {{ padding: .3rem .8rem; border-bottom: 1px solid #ddd;
text-align: left; }} img {{ width: 100%; height: auto; }} h2 {{ margin-top: 2rem; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{analysis.duration:.1f} s · sections: {html.escape(sections)}</p>
<table><tr><th>stem</th><th>family</th><th>instruments (top 3)</th><th>notes</th><th>pitch</th></tr>
{"".join(rows)}</table>
{figures}
<p>Written by Cantor. Notes: <code>notes.mid</code>, <code>score.musicxml</code>;
everything: <code>analysis.json</code>.</p>
</body></html>
"""


def _stem_figure(stem: StemAnalysis, analysis: Analysis) -> str:
    config = analysis.cqt_config
    duration = analysis.duration
    figure, (spectrum, roll, strip) = plt.subplots(
        3, 1, figsize=(11, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 3, 0.4]}, constrained_layout=True
    )
    low, high = config.lowest_midi, config.lowest_midi + config.semitones
    decibels = 20 * np.log10(np.maximum(stem.overview, 1e-5))
    spectrum.imshow(
        decibels,
        origin="lower",
        aspect="auto",
        extent=(0, duration, low - 0.5, high - 0.5),
        vmin=decibels.max() - 70,
        vmax=decibels.max(),
        cmap="magma",
        interpolation="nearest",
    )
    spectrum.set_ylabel("CQT (MIDI pitch)")
    # one collection for all notes: an hour of music has tens of thousands, too many for a patch each
    roll.add_collection(
        PolyCollection(
            [
                [(n.start, n.pitch - 0.4), (n.end, n.pitch - 0.4), (n.end, n.pitch + 0.4), (n.start, n.pitch + 0.4)]
                for n in stem.notes
            ],
            facecolors="#1f77b4",
            edgecolors="none",
        )
    )
    if stem.pitch is not None:
        from pretty_midi import hz_to_note_number

        voiced = np.isfinite(stem.pitch.f0)
        midi = np.full_like(stem.pitch.f0, np.nan)
        midi[voiced] = hz_to_note_number(stem.pitch.f0[voiced])
        roll.plot(stem.pitch.times, midi, color="#d62728", linewidth=0.8, label="f0")
        roll.legend(loc="upper right", fontsize=8)
    pitches = [note.pitch for note in stem.notes]
    roll.set_ylim((min(pitches) - 3, max(pitches) + 3) if pitches else (low, high))
    roll.set_ylabel("notes" if stem.pitched else "drums: no pitch")
    _section_strip(strip, stem.sections)
    strip.set_xlabel("time (s)")
    strip.set_xlim(0, duration)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _section_strip(axis, sections: Sections) -> None:
    for part in sections.to_dict():
        colour = _SECTION_COLOURS[(ord(part["label"]) - ord("A")) % len(_SECTION_COLOURS)]
        axis.axvspan(part["start"], part["end"], color=colour, alpha=0.7)
        axis.text((part["start"] + part["end"]) / 2, 0.5, part["label"], ha="center", va="center", fontsize=8)
    axis.set_yticks([])
    axis.set_ylabel("sections", rotation=0, ha="right", va="center")
