"""Training systems (Lightning), losses and training plots."""
