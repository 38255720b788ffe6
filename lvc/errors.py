"""Errors that lvc reports to users as one line (no traceback)."""


class LvcError(Exception):
    """Base class: anything the CLI turns into a one-line message and a non-zero exit."""


class CorruptStreamError(LvcError):
    """The bytes are not a valid lvc stream (truncated, corrupted, or not lvc at all)."""


class UnsupportedStreamError(LvcError):
    """A valid stream this build cannot decode (future format version, unknown weights)."""


class InputError(LvcError):
    """The input media cannot be read or is not usable."""
