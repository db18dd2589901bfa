"""Audio I/O and resampling."""

from cantor.audio.io import audio_info, load, read_array, save, save_wav_pcm24, save_wav_pcm24_steps
from cantor.audio.resample import resample

__all__ = ["audio_info", "load", "read_array", "resample", "save", "save_wav_pcm24", "save_wav_pcm24_steps"]
