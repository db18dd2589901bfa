"""Compressed audio files written with FFmpeg's encoders (through PyAV, a Cantor dependency), for reader tests."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

LAYOUTS = {1: "mono", 2: "stereo"}


def write_encoded(
    path: Path, audio: np.ndarray | list[np.ndarray], rate: int, codec: str = "aac", *, options: dict | None = None
) -> Path:
    """``audio [time, channels]`` (float, mono or stereo) encoded with ``codec`` into ``path``, the container chosen
    by the suffix (``.m4a``, ``.opus``, ``.webm``, …). A list of arrays gives one stream each, in order, as in
    MUSDB18's ``.stem.mp4``. ``options`` go to the muxer: ``{"movflags": "faststart"}`` puts an MP4's index before
    its samples (as files made for streaming have it), ``{"live": "1"}`` writes a WebM without its length (as a
    browser's recorder does)."""
    streams = audio if isinstance(audio, list) else [audio]
    with av.open(str(path), "w", options=options or {}) as container:
        encoders = [container.add_stream(codec, rate=rate, layout=LAYOUTS[item.shape[1]]) for item in streams]
        for encoder, item in zip(encoders, streams, strict=True):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(item.T, dtype=np.float32), format="fltp", layout=LAYOUTS[item.shape[1]]
            )
            frame.sample_rate = rate
            for packet in [*encoder.encode(frame), *encoder.encode(None)]:
                container.mux(packet)
    return path


def write_video_only(path: Path) -> Path:
    """An MP4 with one second of a grey picture and no sound."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(10):
            image = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8), format="rgb24")
            for packet in stream.encode(image):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
