"""Formats libsndfile does not read (AAC in M4A, Opus, the sound of a video), decoded through FFmpeg's libraries."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from cantor.audio import audio_info, load
from cantor.audio.decode import decode_array, decode_to_file, readable
from cantor.errors import AudioError
from tests.encoded import write_encoded, write_video_only

RATE = 44100


def _tones(seconds: float = 2.0, rate: int = RATE) -> np.ndarray:
    """Left 440 Hz, right 660 Hz: a swapped or mixed channel shows in the spectra."""
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], axis=1)


def _peak_hz(channel: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(channel * np.hanning(len(channel))))
    return float(np.fft.rfftfreq(len(channel), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize(("suffix", "codec", "rate"), [(".m4a", "aac", 44100), (".opus", "libopus", 48000)])
def test_compressed_formats_load_with_their_rate_channels_length_and_pitch(tmp_path, suffix, codec, rate):
    path = write_encoded(tmp_path / f"tones{suffix}", _tones(rate=rate), rate, codec)
    info = audio_info(path)
    audio, loaded_rate = load(path)
    assert loaded_rate == info.samplerate == rate
    assert audio.shape[0] == info.channels == 2
    # the encoder's priming and padding may change the length by a frame of the codec, no more
    assert abs(audio.shape[1] - 2 * rate) <= 2048 and abs(info.frames - 2 * rate) <= 2048
    middle = audio[:, rate // 2 : rate + rate // 2].numpy()
    assert abs(_peak_hz(middle[0], rate) - 440) < 3 and abs(_peak_hz(middle[1], rate) - 660) < 3
    assert 0.2 < np.abs(middle).max() < 0.4


def test_decoding_to_a_wav_gives_the_same_samples_and_readable_cleans_up(tmp_path):
    path = write_encoded(tmp_path / "tones.m4a", _tones(), RATE)
    whole, _ = decode_array(path)
    written, rate = soundfile.read(decode_to_file(path, tmp_path / "decoded.wav"), dtype="float32")
    assert rate == RATE and np.array_equal(written, whole)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with readable(path, scratch) as source:
        assert source.suffix == ".wav" and np.array_equal(soundfile.read(source, dtype="float32")[0], whole)
    assert not any(scratch.iterdir())
    with pytest.raises(RuntimeError, match="the job failed"), readable(path, scratch):
        raise RuntimeError("the job failed")
    assert not any(scratch.iterdir())  # nothing left when the work fails either
    wav = tmp_path / "plain.wav"
    soundfile.write(wav, _tones(0.1), RATE)
    with readable(wav, scratch) as source:
        assert source == wav


def test_bad_compressed_files_give_clear_errors(tmp_path):
    text = tmp_path / "text.m4a"
    text.write_text("not audio at all\n" * 100)
    whole = write_encoded(tmp_path / "whole.m4a", _tones(), RATE).read_bytes()
    truncated = tmp_path / "truncated.m4a"
    truncated.write_bytes(whole[: len(whole) // 3])
    streaming = write_encoded(
        tmp_path / "streaming.m4a", _tones(), RATE, options={"movflags": "faststart"}
    ).read_bytes()
    truncated_streaming = tmp_path / "truncated-streaming.m4a"
    truncated_streaming.write_bytes(streaming[: len(streaming) // 2])
    webm = write_encoded(tmp_path / "whole.webm", _tones(3.0, 48000), 48000, "libopus").read_bytes()
    truncated_webm = tmp_path / "truncated.webm"
    truncated_webm.write_bytes(webm[: len(webm) // 2])
    concat = tmp_path / "playlist.m4a"
    concat.write_text("ffconcat version 1.0\nfile whole.m4a\n")
    cases = {
        text: "not a readable audio file",
        truncated: "not a readable audio file",
        truncated_streaming: "corrupt audio data",
        write_video_only(tmp_path / "video.mp4"): "has no audio stream",
        tmp_path / "missing.m4a": "no such file",
        truncated_webm: "truncated",
        # FFmpeg's concat demuxer would read the files such a text names: not one Cantor opens
        concat: "not a readable audio file",
    }
    for path, words in cases.items():
        with pytest.raises(AudioError, match=words):
            load(path)


def test_a_recording_without_a_length_and_a_stream_that_changes_its_channels_decode_whole(tmp_path):
    """A browser's recorder writes WebM without a length; broadcasts switch between stereo and mono (or 5.1)
    midway: the first decodes in full, the second comes out in its first layout throughout."""
    live = write_encoded(tmp_path / "live.webm", _tones(2.0, 48000), 48000, "libopus", options={"live": "1"})
    assert audio_info(live).frames == 0  # no estimate
    audio, rate = load(live)
    assert rate == 48000 and abs(audio.shape[1] - 96000) <= 960

    stereo = write_encoded(tmp_path / "stereo.aac", _tones(1.0), RATE)
    mono = write_encoded(tmp_path / "mono.aac", _tones(1.0)[:, :1], RATE)
    switching = tmp_path / "switching.aac"
    switching.write_bytes(stereo.read_bytes() + mono.read_bytes())  # ADTS frames carry their own layout
    audio, rate = load(switching)
    assert audio.shape[0] == 2 and abs(audio.shape[1] - 2 * RATE) <= 4096
    second = audio[:, RATE + RATE // 4 : RATE + 3 * RATE // 4].numpy()  # the mono part, as two equal channels
    assert abs(_peak_hz(second[0], RATE) - 440) < 3 and np.allclose(second[0], second[1], atol=1e-4)
