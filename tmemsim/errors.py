"""The project's own errors: bad scenarios and bad traces.

Each carries what went wrong and where (file, YAML path and line, or trace line), so the CLI can
print one or two plain lines and exit 2 instead of a traceback.
"""

from __future__ import annotations


class TmemsimError(Exception):
    """Base of every error caused by the user's input."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


class ScenarioError(TmemsimError):
    """A scenario that cannot be loaded: YAML syntax, unknown key, wrong type or value."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        path: str | None = None,
        line: int | None = None,
    ):
        super().__init__(message, file=file, line=line)
        self.path = path

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.path:
            parts.append(self.path)
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts)


class TraceError(TmemsimError):
    """A block trace that cannot be read: malformed line, unknown format, missing column."""


class OptionError(TmemsimError, ValueError):
    """An option or argument outside what it accepts: `--jobs 0`, a check no check matches."""


def check_jobs(jobs: int | None) -> None:
    """Parallel processes: None (the cores) or at least 1."""
    if jobs is not None and jobs < 1:
        raise OptionError(f"jobs must be at least 1, got {jobs}")


class RunError(Exception):
    """A run that failed for a reason other than bad input (e.g. stale reads under --check)."""
