"""How an option is declared: once, as a field of the dataclass that uses it.

A leaf module: `config` composes the agents' configuration from these fields, and the
frame sources declare their own options with them (`camera/sources/live.py`,
`camera/sources/rtsp.py`) without importing `config`. From each field come the
voluptuous check, the default, the environment variable (BOBBY_<NAME>), the command-line
flag and its help (`config.schema_of`, `cli.add_options`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol

OPTION = "bobby_option"  # a field's metadata key: its Option
GROUP = "bobby_options"  # a field's metadata key: its value is a dataclass of options
UNSET: Any = object()  # an Option's schema_default when the field's default applies


@dataclass(frozen=True, slots=True)
class Option:
    """How one option is checked and offered on the command line (its default is the field's)."""

    check: Any  # voluptuous validator of a value from YAML, the environment or a flag
    help: str | None = None  # the flag's help ({default}, {range} filled in); None: no flag
    flag: str | None = None  # default: --name-with-dashes
    metavar: str | None = None
    type: Callable[[str], Any] | None = None  # how argparse reads the flag's value
    const: Any = None  # a switch: the flag stores this value (--no-record stores False)
    range: tuple[float, float] | None = None  # shown as {range} in the help
    schema_default: Any = UNSET  # when the schema's default is not the field's


def option(default: Any = dataclasses.MISSING, **how: Any) -> Any:
    """A config field that is an option: `check=`, and the flag's `help=` and friends."""
    metadata = {OPTION: Option(**how)}
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def number(default: Any, lo: float, hi: float, kind: type = float, **how: Any) -> Any:
    """A numeric option in [lo, hi]: the range is checked and shown in the help."""
    return option(default, check=number_in(lo, hi, kind), range=(lo, hi), type=kind, **how)


def secret(**how: Any) -> Any:
    """An optional string kept out of logs and `--validate-config` (repr=False)."""
    return field(default=None, repr=False, metadata={OPTION: Option(check=vol.Any(None, str), **how)})


def group(options: type) -> Any:
    """A config field holding a dataclass of options declared elsewhere (a source's own):
    they are read as flat options (`stream_timeout`, not `stream.timeout`)."""
    return field(default_factory=options, metadata={GROUP: options})


def number_in(lo: float, hi: float, kind: type = float) -> vol.All:
    return vol.All(vol.Coerce(kind), vol.Range(min=lo, max=hi))


def existing_file(value: Any) -> str:
    if not isinstance(value, str) or not Path(value).expanduser().is_file():
        raise vol.Invalid(f"file {value!r} does not exist")
    return str(Path(value).expanduser())


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
        return False
    raise vol.Invalid("expected true or false")


OPTIONAL_FILE = vol.Any(None, existing_file)
OPTIONAL_DIR = vol.Any(None, vol.All(str, vol.Length(min=1)))
