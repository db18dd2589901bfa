"""Cantor: take music apart and make new music with deep learning, on an ordinary CPU."""

__version__ = "0.1.0"
