"""Typed errors for users. The CLI catches `MsdepthError` once and prints its message as one line.

Every message names the file or value at fault and says how to fix it.
"""

from __future__ import annotations


class MsdepthError(Exception):
    """Base class of every error meant for a user rather than a developer."""


class ConfigError(MsdepthError):
    """A configuration value or file is invalid (unknown key, wrong type, out of range)."""


class DataError(MsdepthError):
    """An input file or dataset is missing, unreadable or inconsistent."""


class CheckpointError(MsdepthError):
    """A checkpoint is missing, corrupt, untrusted or of another geometry."""
