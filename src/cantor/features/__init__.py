"""Spectral features: STFT/iSTFT and log-mel, as modules."""

from cantor.features.mel import LogMel, MelConfig, hz_to_mel, mel_filterbank, mel_to_hz
from cantor.features.stft import ISTFT, STFT, STFTConfig

__all__ = ["ISTFT", "STFT", "LogMel", "MelConfig", "STFTConfig", "hz_to_mel", "mel_filterbank", "mel_to_hz"]
