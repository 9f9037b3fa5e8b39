"""Every error mosaic raises on purpose, one type per family of failure.

    MosaicError                     catch this to catch everything below
     ├── ConfigError                a setting is unknown, of the wrong type or inconsistent
     ├── ActionError                a DataAction is invalid (carries the full validation report)
     ├── DataError                  a dataset row or file is malformed (names file, row, field)
     │    └── DatasetUnavailable    a dataset cannot be reached (offline hub id, missing path)
     ├── ModelError                 a model spec cannot be resolved, built or loaded
     │    └── ModelUnavailable      the weights are not on this machine (names how to get them)
     ├── MissingExtra               an optional dependency is not installed (names the pip line)
     ├── DamagedFile                a file mosaic wrote is cut short or no longer what it was
     ├── TemplateError              a chat template cannot be used the way mosaic needs
     └── ScoringError               L3 items cannot be turned into an L2/L1 record

Each exception keeps the objects it is about as attributes, so callers never parse messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class MosaicError(Exception):
    """Base class of every error mosaic raises on purpose."""


class ConfigError(MosaicError):
    """A configuration value is unknown, of the wrong type, or inconsistent with another."""


class ActionError(MosaicError):
    """A DataAction cannot be used as it is; `report` (a ValidationReport) lists every problem."""

    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one row of a dataset."""

    source: str
    """The file path or dataset id the row came from."""
    row: int
    """0-based row index within the source (line number - 1 for jsonl)."""
    field: str
    """The field (dotted path) that is wrong, or "" for the row as a whole."""
    message: str
    """What is wrong, in a sentence."""

    def __str__(self) -> str:
        where = f"{self.source}, row {self.row}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


def validation_problems(error: Any, *, limit: int | None = None, whole: str = "") -> list[str]:
    """A pydantic ValidationError as `dotted.field: message` lines (the first `limit`);
    `whole` names a problem with the document itself (an empty location)."""
    return [f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}"
            for e in error.errors()[:limit]]


class DamagedFile(MosaicError):
    """A JSON file mosaic wrote (config, archive, report, manifest) cannot be read back:
    cut short, edited, or from another version. The message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class DataError(MosaicError):
    """A dataset could not be read as the format it claims to be.

    `problems` lists every bad row found (not just the first); the message shows the first
    few and how to skip bad rows instead (lenient mode).
    """

    MAX_SHOWN = 10

    def __init__(self, problems: list[RowProblem], *, hint: str = "") -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[: self.MAX_SHOWN])
        more = len(self.problems) - self.MAX_SHOWN
        text = f"{len(self.problems)} malformed row(s):\n{shown}"
        if more > 0:
            text += f"\n  ... and {more} more"
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


class DatasetUnavailable(DataError):
    """The dataset cannot be reached: a hub id while offline, or a path that does not exist."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        MosaicError.__init__(self, f"dataset '{source}' is not available: {reason}")
        self.problems = []


class ModelError(MosaicError):
    """A model spec cannot be resolved, built or loaded."""


class ModelUnavailable(ModelError):
    """The model's weights are not on this machine; the message says how to get them."""

    def __init__(self, spec: str, how_to_fix: str) -> None:
        self.spec = spec
        self.how_to_fix = how_to_fix
        super().__init__(f"model '{spec}' is not available on this machine. {how_to_fix}")


class MissingExtra(MosaicError):
    """An optional dependency is missing; `pip_line` is the command that installs it."""

    def __init__(self, what: str, pip_line: str) -> None:
        self.what = what
        self.pip_line = pip_line
        super().__init__(f"{what} needs an optional dependency. Install it with: {pip_line}")


class TemplateError(MosaicError):
    """A tokenizer's chat template cannot be used as mosaic needs (absent, or not prefix-stable)."""


class ScoringError(MosaicError):
    """L3 items cannot be aggregated into L2/L1 (wrong shape, inconsistent lengths)."""
