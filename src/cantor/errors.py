"""Errors Cantor raises on purpose. The CLI prints them as one line and exits non-zero; anything else is a bug."""

from __future__ import annotations


class CantorError(Exception):
    """A failure the user can act on: bad input, a missing resource, an impossible request."""

    exit_code = 1


class AudioError(CantorError):
    """An audio file that cannot be read or written: the message names the file and the reason."""


class UsageError(CantorError):
    """Arguments that do not make sense together (exit code 2, like a command-line usage error)."""

    exit_code = 2
