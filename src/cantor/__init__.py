"""Cantor: take music apart and make new music with deep learning, on an ordinary CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cantor.inference.analyze import Analyzer, analyze
    from cantor.inference.generate import Generator
    from cantor.inference.separate import Separator
    from cantor.inference.variations import Variations
    from cantor.inference.vocode import Vocoder

__all__ = ["Analyzer", "Generator", "Separator", "Variations", "Vocoder", "__version__", "analyze"]


def __getattr__(name: str):
    # Imported on first use: the facades pull in torch, which `cantor --help` should not wait for.
    if name == "Separator":
        from cantor.inference.separate import Separator

        return Separator
    if name == "Vocoder":
        from cantor.inference.vocode import Vocoder

        return Vocoder
    if name == "Generator":
        from cantor.inference.generate import Generator

        return Generator
    if name == "Variations":
        from cantor.inference.variations import Variations

        return Variations
    if name in ("Analyzer", "analyze"):
        from cantor.inference import analyze as module

        return getattr(module, name)
    raise AttributeError(f"module 'cantor' has no attribute {name!r}")
