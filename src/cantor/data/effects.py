"""Per-stem processing that makes rendered songs sound less alike: EQ, filters, compression, saturation, reverb,
panning, stereo width and gain, with a real effects library (pedalboard).

:func:`draw_effects` draws the parameters (recorded in the manifest); :func:`apply_effects` applies them. Keeping the
two apart means a manifest line is enough to reproduce a stem.
"""

from __future__ import annotations

import math

import numpy as np
import pedalboard

# Families that tolerate drive; saturating a flute or a choir just sounds broken.
DRIVEN_FAMILIES = {"guitar", "bass", "synth lead", "organ", "drums"}


def draw_effects(stem: str, family: str, rng: np.random.Generator) -> dict:
    """Random processing for one stem: a dict of plain numbers, empty slots left out."""
    low_end = stem in ("bass", "drums") or family == "bass"
    chain: dict = {}
    if not low_end and rng.random() < 0.3:
        chain["highpass_hz"] = round(float(rng.uniform(40, 200)), 1)
    if rng.random() < 0.25:
        chain["lowpass_hz"] = round(float(math.exp(rng.uniform(math.log(3000), math.log(16000)))), 1)
    if rng.random() < 0.5:
        chain["low_shelf"] = {
            "hz": round(float(rng.uniform(80, 300)), 1),
            "gain_db": round(float(rng.uniform(-6, 6)), 2),
        }
    if rng.random() < 0.5:
        chain["peak"] = {
            "hz": round(float(math.exp(rng.uniform(math.log(200), math.log(6000)))), 1),
            "gain_db": round(float(rng.uniform(-6, 6)), 2),
            "q": round(float(rng.uniform(0.5, 2.0)), 2),
        }
    if rng.random() < 0.5:
        chain["high_shelf"] = {
            "hz": round(float(rng.uniform(3000, 10000)), 1),
            "gain_db": round(float(rng.uniform(-6, 6)), 2),
        }
    if rng.random() < 0.4:
        chain["compressor"] = {
            "threshold_db": round(float(rng.uniform(-30, -10)), 1),
            "ratio": round(float(rng.uniform(2, 8)), 1),
            "attack_ms": round(float(rng.uniform(2, 30)), 1),
            "release_ms": round(float(rng.uniform(50, 300)), 1),
        }
    if family in DRIVEN_FAMILIES and rng.random() < 0.15:
        chain["drive_db"] = round(float(rng.uniform(4, 18)), 1)
    if rng.random() < 0.1 and stem != "drums":
        chain["chorus_mix"] = round(float(rng.uniform(0.2, 0.5)), 2)
    if rng.random() < 0.6:
        chain["reverb"] = {
            "room_size": round(float(rng.uniform(0.1, 0.9)), 2),
            "damping": round(float(rng.uniform(0.2, 0.8)), 2),
            "wet": round(float(rng.uniform(0.05, 0.35)), 2),
        }
    pan_range = 0.2 if low_end else 0.7
    chain["pan"] = round(float(rng.uniform(-pan_range, pan_range)), 3)
    chain["width"] = round(float(rng.uniform(0.3, 1.3)), 3)
    return chain


def apply_effects(audio: np.ndarray, chain: dict, *, sample_rate: int) -> np.ndarray:
    """Apply a chain from :func:`draw_effects` to ``audio`` ``[2, time]`` (float32); the length is unchanged."""
    plugins = []
    if "highpass_hz" in chain:
        plugins.append(pedalboard.HighpassFilter(cutoff_frequency_hz=chain["highpass_hz"]))
    if "lowpass_hz" in chain:
        plugins.append(pedalboard.LowpassFilter(cutoff_frequency_hz=chain["lowpass_hz"]))
    if "low_shelf" in chain:
        shelf = chain["low_shelf"]
        plugins.append(pedalboard.LowShelfFilter(cutoff_frequency_hz=shelf["hz"], gain_db=shelf["gain_db"]))
    if "peak" in chain:
        peak = chain["peak"]
        plugins.append(pedalboard.PeakFilter(cutoff_frequency_hz=peak["hz"], gain_db=peak["gain_db"], q=peak["q"]))
    if "high_shelf" in chain:
        shelf = chain["high_shelf"]
        plugins.append(pedalboard.HighShelfFilter(cutoff_frequency_hz=shelf["hz"], gain_db=shelf["gain_db"]))
    if "compressor" in chain:
        c = chain["compressor"]
        plugins.append(
            pedalboard.Compressor(
                threshold_db=c["threshold_db"], ratio=c["ratio"], attack_ms=c["attack_ms"], release_ms=c["release_ms"]
            )
        )
    if "drive_db" in chain:
        plugins.append(pedalboard.Distortion(drive_db=chain["drive_db"]))
    if "chorus_mix" in chain:
        plugins.append(pedalboard.Chorus(mix=chain["chorus_mix"]))
    if "reverb" in chain:
        r = chain["reverb"]
        plugins.append(
            pedalboard.Reverb(
                room_size=r["room_size"], damping=r["damping"], wet_level=r["wet"], dry_level=1 - r["wet"]
            )
        )
    if plugins:
        audio = pedalboard.Pedalboard(plugins)(np.asarray(audio, dtype=np.float32), sample_rate)
    # einsum, not @: BLAS would start threads that keep spinning after the call and double the CPU time it costs.
    return np.einsum("ij,jt->it", _stereo_image(chain.get("width", 1.0), chain.get("pan", 0.0)), audio)


def _stereo_image(width: float, pan: float) -> np.ndarray:
    """One 2×2 matrix for stereo width then pan (a single pass over the samples instead of four).

    Width scales the side signal ``(L − R) / 2`` and keeps the mid ``(L + R) / 2``; pan is a constant-power balance,
    -1 hard left, +1 hard right.
    """
    angle = (pan + 1) * math.pi / 4
    balance = np.diag([math.cos(angle) * math.sqrt(2), math.sin(angle) * math.sqrt(2)])
    spread = np.array([[1 + width, 1 - width], [1 - width, 1 + width]]) / 2
    return (balance @ spread).astype(np.float32)


def rms_db(audio: np.ndarray, *, full_scale: float = 1.0) -> float:
    """RMS level in dBFS over all samples (−120 for silence); integer samples give ``full_scale`` for 0 dBFS."""
    samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    # No squared copy (and no BLAS threads); float32 sums of 10⁶ squares stay well inside the 0.01 dB it is rounded to.
    rms = math.sqrt(float(np.einsum("i,i->", samples, samples)) / max(samples.size, 1)) / full_scale
    return round(20 * math.log10(max(rms, 1e-6)), 2)
