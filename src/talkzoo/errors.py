"""Errors that talkzoo raises for bad input.

Every error here is a user-facing mistake (a missing file, a wrong shape, a family mismatch),
not a bug. The ``talkzoo`` command prints such an error as one short message, without a
traceback, and exits with status 2. Messages name the file or field and say what was expected.
"""

from __future__ import annotations


class TalkzooError(Exception):
    """Base class of talkzoo's user-facing errors (printed by the CLI without a traceback)."""


class ConfigError(TalkzooError, ValueError):
    """A config file or command-line value is missing, misspelt or of the wrong kind."""


class DataError(TalkzooError, ValueError):
    """A data file is missing, unreadable, or holds content of the wrong shape, type or length."""


class FamilyMismatchError(ConfigError):
    """A model of one task family was paired with data of another (e.g. a mesh model, video data)."""


class MissingWeightsError(TalkzooError, FileNotFoundError):
    """Pretrained weights a model or metric needs are absent; the message says which and where."""


class PluginError(TalkzooError):
    """A plugin's metadata is malformed or its entry point could not be loaded."""
