"""Building blocks: TCN, variational bottleneck, discriminators."""
