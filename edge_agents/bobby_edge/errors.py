"""The agents' own exceptions, in a leaf module: sources, models and the CLI raise or catch
them without importing the agent base class."""

from __future__ import annotations


class StartupError(RuntimeError):
    """The agent cannot start (no camera, no model, ...); the message names the fix."""


class CommandError(ValueError):
    """A command that is valid JSON but cannot be applied; the text goes into the ack."""


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which option and why."""
