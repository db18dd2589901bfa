"""Quality metrics."""

from cantor.metrics.sdr import si_sdr, si_sdr_improvement, si_sdr_tracks

__all__ = ["si_sdr", "si_sdr_improvement", "si_sdr_tracks"]
