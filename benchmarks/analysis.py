"""Analysis benchmark: note transcription, pitch and instrument family on held-out stems. Not a test.

    cantor data build --preset band --songs 400 --soundfont TimGM6mb --splits test -o data/band-timgm
    .venv/bin/python benchmarks/analysis.py --data data/band-timgm --songs 6 --family-songs 20 \
        --out benchmarks/results/analysis-band.md [--transcriber notes --classifier instruments]
    .venv/bin/python benchmarks/analysis.py --data data/band --songs 12 --family-songs 20 --no-baselines \
        --out benchmarks/results/analysis-band-in-domain.md
    .venv/bin/python benchmarks/analysis.py --data data/band-timgm --songs 20 --family-songs 40 \
        --skip-shared-with sf_GMbank --out benchmarks/results/analysis-band-truly-unseen.md

Stems of the test split, rendered with a soundfont not used in training, are analysed one by one (clean stems:
this measures the analysis, not the separator). For pitched stems: note F1 (mir_eval.transcription, onsets within
50 ms, with and without offsets) for Cantor, pYIN (its f0 cut into notes at semitone changes) and basic-pitch
(when installed: ``pip install --no-deps basic-pitch`` + onnxruntime); for the monophonic stems (melody, bass,
chorale voices) raw pitch and raw chroma accuracy (mir_eval.melody; pitch guesses in frames called unvoiced count,
as mir_eval defines them, and a strict column counts those frames wrong) against the rendered notes. For every stem:
the instrument family, accuracy and a confusion matrix image. Speed: seconds of audio per second of compute.
TimGM6mb shares most of its samples with the training font sf_GMbank (benchmarks/font_overlap.py): with
``--skip-shared-with sf_GMbank`` only the stems whose program the two render differently are scored.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import librosa
import matplotlib
import mir_eval
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from cantor.audio.io import load
from cantor.data.instruments import FAMILIES
from cantor.data.stems import read_song_labels
from cantor.inference.analyze import Analyzer

sys.path.insert(0, str(Path(__file__).parent))
from _report import header
from font_overlap import SharedPrograms

MONOPHONIC = ("melody", "bass", "soprano", "alto", "tenor")
PYIN_RATE, PYIN_HOP = 22050, 256
PYIN_FMIN, PYIN_FMAX = 40.0, 1600.0  # E1 to G6: every monophonic part here; a wider range only costs time


def reference_f0(notes: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The rendered notes as an f0 track (Hz, 0 where silent) on ``times``; the highest note where they overlap."""
    f0 = np.zeros_like(times)
    for start, end, pitch, _ in notes[np.argsort(notes[:, 2])]:
        f0[(times >= start) & (times < end)] = librosa.midi_to_hz(pitch)
    return f0


def f0_to_notes(times: np.ndarray, f0: np.ndarray, *, min_duration: float = 0.05) -> np.ndarray:
    """A monophonic f0 track → notes ``(n, 3)`` (start, end, MIDI): a new note at every change of semitone."""
    midi = np.where(np.isfinite(f0) & (f0 > 0), np.round(librosa.hz_to_midi(np.where(f0 > 0, f0, 1.0))), 0)
    notes, start = [], 0
    for index in range(1, len(midi) + 1):
        if index == len(midi) or midi[index] != midi[start]:
            if midi[start] > 0 and times[min(index, len(times) - 1)] - times[start] >= min_duration:
                notes.append((times[start], times[min(index, len(times) - 1)], midi[start]))
            start = index
    return np.array(notes, dtype=float).reshape(-1, 3)


def note_scores(reference: np.ndarray, estimate: np.ndarray) -> tuple[float, float]:
    """Note F1 without and with offsets (mir_eval.transcription, 50 ms onsets, offsets within 20 % or 50 ms)."""
    if len(reference) == 0 or len(estimate) == 0:
        return (1.0, 1.0) if len(reference) == len(estimate) else (0.0, 0.0)
    ref_intervals, ref_hz = reference[:, :2], librosa.midi_to_hz(reference[:, 2])
    est_intervals = np.maximum(estimate[:, :2], 0)
    est_intervals[:, 1] = np.maximum(est_intervals[:, 1], est_intervals[:, 0] + 1e-3)
    est_hz = librosa.midi_to_hz(estimate[:, 2])
    onset = mir_eval.transcription.precision_recall_f1_overlap(
        ref_intervals, ref_hz, est_intervals, est_hz, offset_ratio=None
    )[2]
    offset = mir_eval.transcription.precision_recall_f1_overlap(ref_intervals, ref_hz, est_intervals, est_hz)[2]
    return onset, offset


def pitch_scores(
    reference_notes: np.ndarray, times: np.ndarray, f0: np.ndarray, guess: np.ndarray | None = None
) -> tuple[float, ...]:
    """Raw pitch and chroma accuracy, raw pitch with unvoiced frames as wrong, overall accuracy, voicing recall and
    false alarm (mir_eval.melody).

    As mir_eval and MIREX define raw pitch and chroma accuracy, a system's pitch guess in the frames it calls unvoiced
    counts (voicing is scored apart, by recall and false alarm): ``guess`` (Hz, every frame) gives it; a system with
    none (notes only) has those frames wrong. The strict column counts them wrong for every system.
    """
    reference = reference_f0(reference_notes, times)
    voiced_only = np.where(np.isfinite(f0), f0, 0.0)
    with_guesses = voiced_only if guess is None else np.where(np.isfinite(f0), f0, -np.abs(guess))
    ref_voicing, ref_cent, est_voicing, est_cent = mir_eval.melody.to_cent_voicing(
        times, reference, times, with_guesses
    )
    strict = mir_eval.melody.to_cent_voicing(times, reference, times, voiced_only)
    recall, false_alarm = mir_eval.melody.voicing_measures(ref_voicing, est_voicing)
    return (
        mir_eval.melody.raw_pitch_accuracy(ref_voicing, ref_cent, est_voicing, est_cent),
        mir_eval.melody.raw_chroma_accuracy(ref_voicing, ref_cent, est_voicing, est_cent),
        mir_eval.melody.raw_pitch_accuracy(*strict),
        mir_eval.melody.overall_accuracy(ref_voicing, ref_cent, est_voicing, est_cent),
        recall,
        false_alarm,
    )


def run_pyin(audio: torch.Tensor, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, f0 (NaN where unvoiced) and pYIN's pitch guess in every frame."""
    mono = librosa.resample(audio.mean(dim=0).numpy(), orig_sr=rate, target_sr=PYIN_RATE)
    guess, voiced, _ = librosa.pyin(
        mono, fmin=PYIN_FMIN, fmax=PYIN_FMAX, sr=PYIN_RATE, hop_length=PYIN_HOP, fill_na=None
    )
    times = librosa.times_like(guess, sr=PYIN_RATE, hop_length=PYIN_HOP)
    return times, np.where(voiced, guess, np.nan), guess


def load_basic_pitch():
    """basic-pitch's ONNX model, or None when the package is not installed."""
    try:
        from basic_pitch import ICASSP_2022_MODEL_PATH
        from basic_pitch.inference import Model
    except ImportError:
        return None
    return Model(ICASSP_2022_MODEL_PATH)


def run_basic_pitch(model, path: Path) -> np.ndarray:
    """Note events ``(n, 3)`` (start, end, MIDI) with basic-pitch's default thresholds."""
    from basic_pitch.inference import predict

    _, _, events = predict(str(path), model)
    return np.array([(start, end, pitch) for start, end, pitch, *_ in events], dtype=float).reshape(-1, 3)


def notes_to_f0(notes: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Notes ``(n, 3)`` → an f0 track on ``times`` (NaN where no note sounds), for systems that give only notes."""
    f0 = reference_f0(np.column_stack([notes, np.zeros(len(notes))]), times)
    return np.where(f0 > 0, f0, np.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True, help="built data folder(s)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--songs", type=int, default=None, help="songs per data folder for notes and pitch")
    parser.add_argument(
        "--family-songs", type=int, default=None, help="songs per data folder for the (cheap) family accuracy"
    )
    parser.add_argument("--no-baselines", action="store_true", help="Cantor only (no pYIN, no basic-pitch)")
    parser.add_argument("--transcriber", default="notes")
    parser.add_argument("--classifier", default="instruments")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--skip-shared-with",
        metavar="FONT",
        help="leave out stems whose program the data's font renders alike with FONT, a training font (correlation "
        "above 0.8, benchmarks/font_overlap.py): what is left is truly unseen",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    shared = SharedPrograms(args.skip_shared_with)
    torch.set_num_threads(args.threads)
    analyzer = Analyzer(transcriber=args.transcriber, classifier=args.classifier)
    rows: dict[str, list] = {"cantor": [], "pyin": [], "basic-pitch": []}
    pitch_rows: dict[str, list] = {"cantor": [], "pyin": [], "basic-pitch": []}
    basic_pitch = None if args.no_baselines else load_basic_pitch()
    families_true, families_predicted = [], []
    seconds = {"cantor": 0.0, "pyin": 0.0, "basic-pitch": 0.0}
    audio_seconds = dict.fromkeys(seconds, 0.0)

    def timed(system: str, duration: float, function, *inputs):
        start = time.perf_counter()
        result = function(*inputs)
        seconds[system] += time.perf_counter() - start
        audio_seconds[system] += duration
        return result

    for root in args.data:
        found = sorted(p for p in (root / args.split).iterdir() if (p / "song.json").is_file())
        notes_songs = args.songs or len(found)
        for number, song in enumerate(found[: max(notes_songs, args.family_songs or 0)], 1):
            for label in read_song_labels(song):
                if shared.skips(label.soundfont, label.program_label):
                    continue
                path = next(p for p in (song / f"{label.name}.wav", song / f"{label.name}.flac") if p.exists())
                audio, rate = load(path)
                if audio.abs().max() < 1e-4:
                    continue
                duration = audio.shape[-1] / rate
                stem = timed("cantor", duration, analyzer.analyze_stem, label.name, audio, rate)
                families_true.append(label.family)
                families_predicted.append(stem.family)
                if label.is_drum or number > notes_songs:
                    continue
                reference = label.notes[:, [0, 1, 2]]
                cantor_notes = np.array([(n.start, n.end, n.pitch) for n in stem.notes], dtype=float).reshape(-1, 3)
                rows["cantor"].append((label.name, *note_scores(reference, cantor_notes)))
                if basic_pitch is not None:
                    basic = timed("basic-pitch", duration, run_basic_pitch, basic_pitch, path)
                    rows["basic-pitch"].append((label.name, *note_scores(reference, basic)))
                if label.name not in MONOPHONIC:
                    continue
                if stem.pitch is not None:
                    times, f0, guess = stem.pitch.times, stem.pitch.f0, stem.pitch.guess
                else:  # classified as drums: no pitch at all
                    times = np.arange(stem.cqt.shape[1]) / analyzer.cqt_config.frames_per_second
                    f0, guess = np.full_like(times, np.nan), None
                pitch_rows["cantor"].append((label.name, *pitch_scores(label.notes, times, f0, guess)))
                if basic_pitch is not None:
                    basic_f0 = notes_to_f0(basic, times)
                    pitch_rows["basic-pitch"].append((label.name, *pitch_scores(label.notes, times, basic_f0)))
                if args.no_baselines:
                    continue
                # pYIN is a monophonic pitch tracker: it runs on the monophonic stems only
                pyin_times, pyin_f0, pyin_guess = timed("pyin", duration, run_pyin, audio, rate)
                rows["pyin"].append((label.name, *note_scores(reference, f0_to_notes(pyin_times, pyin_f0))))
                pitch_rows["pyin"].append((label.name, *pitch_scores(label.notes, pyin_times, pyin_f0, pyin_guess)))
            print(f"{root.name}: song {number}", file=sys.stderr)
    lines = [header("Analysis: notes, pitch and instrument family on held-out stems")]
    folders = ", ".join(f"`{d}` ({args.split})" for d in args.data)
    lines.append(f"- data: {folders}; notes and pitch on the first {args.songs or 'all'} songs of each")
    lines.append(f"- family accuracy on {len(families_true)} stems ({audio_seconds['cantor'] / 60:.1f} min)")
    lines.append(f"- pYIN: {PYIN_FMIN:.0f}–{PYIN_FMAX:.0f} Hz at {PYIN_RATE} Hz, hop {PYIN_HOP}; its f0 cut into notes")
    lines.append(f"- Cantor models: transcriber `{args.transcriber}`, classifier `{args.classifier}`")
    if args.skip_shared_with:
        lines.append(f"- left out: {shared.describe()}")
    lines.append("\n### Notes (pitched stems; mean over stems)\n")
    lines.append("| system | note F1 (onsets) | note F1 (onsets + offsets) | stems | × real time |")
    lines.append("|---|---|---|---|---|")
    for system, scores in rows.items():
        if not scores:
            if not args.no_baselines:
                lines.append(f"| {system} | not installed | | | |")
            continue
        onset, offset = np.mean([s[1] for s in scores]), np.mean([s[2] for s in scores])
        speed = audio_seconds[system] / seconds[system] if seconds[system] else float("nan")
        lines.append(f"| {system} | {onset:.3f} | {offset:.3f} | {len(scores)} | {speed:.1f} |")
    names = sorted({s[0] for scores in rows.values() for s in scores})
    systems = [system for system, scores in rows.items() if scores]
    lines.append("\nNote F1 (onsets) by stem:\n")
    lines.append("| stem | " + " | ".join(systems) + " |")
    lines.append("|---|" + "---|" * len(systems))
    for name in names:
        cells = [[s[1] for s in rows[system] if s[0] == name] for system in systems]
        lines.append(f"| {name} | " + " | ".join(f"{np.mean(c):.3f}" if c else "–" for c in cells) + " |")
    lines.append("\n### Pitch (monophonic stems; mean over stems)\n")
    columns = [
        "raw pitch accuracy",
        "raw chroma accuracy",
        "raw pitch, unvoiced frames wrong",
        "overall accuracy",
        "voicing recall",
        "voicing false alarm",
    ]
    lines.append(
        "Raw pitch and chroma accuracy as mir_eval defines them: a system's pitch guess in the frames it calls "
        "unvoiced counts (Cantor's most probable key; pYIN's best guess); basic-pitch gives notes only, so it has "
        "none. The third column counts every frame called unvoiced as wrong.\n"
    )
    lines.append("| system | " + " | ".join(columns) + " | stems |")
    lines.append("|---|" + "---|" * (len(columns) + 1))
    for system, scores in pitch_rows.items():
        if scores:
            means = np.mean([s[1:] for s in scores], axis=0)
            lines.append(f"| {system} | " + " | ".join(f"{m:.3f}" for m in means) + f" | {len(scores)} |")
    accuracy = np.mean(np.array(families_true) == np.array(families_predicted)) if families_true else float("nan")
    lines.append(f"\n### Instrument family\n\nAccuracy **{accuracy:.3f}** over {len(families_true)} stems.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if families_true:
        image = args.out.with_name(args.out.stem + "-confusion.png")
        confusion_figure(families_true, families_predicted, image)
        lines.append(f"\n![family confusion matrix]({image.name})")
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(
        json.dumps({"notes": rows, "pitch": pitch_rows, "families": [families_true, families_predicted]}) + "\n"
    )
    print("\n".join(lines))


def confusion_figure(truth: list[str], predicted: list[str], path: Path) -> None:
    labels = [f for f in FAMILIES if f in truth or f in predicted]
    matrix = np.zeros((len(labels), len(labels)))
    for t, p in zip(truth, predicted, strict=True):
        matrix[labels.index(t), labels.index(p)] += 1
    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(7, 6), constrained_layout=True)
    axis.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            axis.text(j, i, int(count), ha="center", va="center", fontsize=7)
    axis.set_xlabel("predicted family")
    axis.set_ylabel("rendered family")
    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()
