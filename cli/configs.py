"""Parsed flags -> the engine's typed configs: each flag's destination is named after
the config field it sets, so one conversion serves every command."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TypeVar

C = TypeVar("C")


def config_from(cls: type[C], args: argparse.Namespace) -> C:
    """The frozen dataclass `cls` from the flags of the same names (lists become tuples;
    flags that are not fields, such as --threads, are left to the command)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
