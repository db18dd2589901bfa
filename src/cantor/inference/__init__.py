"""Inference: chunked processing and the user-facing facades."""
