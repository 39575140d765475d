"""Human units in scenarios: sizes ("512MiB"), durations ("20us") and rates ("150/s").

Every parser accepts a plain number too (bytes, seconds, per second) and raises ValueError
with a message saying what was expected; the scenario layer adds the file, path and line.
"""

from __future__ import annotations

import math
import re

PAGE_SIZE = 4096

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2,
    "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_TIME_UNITS = {
    "": 1.0, "s": 1.0, "sec": 1.0, "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3,
    "m": 60.0, "min": 60.0, "h": 3600.0,
}
_RATE_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e3, "us": 1e6, "min": 1 / 60, "m": 1 / 60, "h": 1 / 3600}
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_QUANTITY = re.compile(r"^\s*" + _NUMBER + r"\s*([a-zA-Zµ]*)\s*$")
_RATE = re.compile(r"^\s*" + _NUMBER + r"\s*/\s*([a-zA-Zµ]+)\s*$")


def _split(text: str, what: str, example: str) -> tuple[float, str]:
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(f"expected a {what} such as {example}, got {text!r}")
    number = float(m.group(1))
    if not math.isfinite(number):
        raise ValueError(f"expected a finite {what}, got {text!r}")
    return number, m.group(2).lower()


def _number(value, what: str) -> float | None:
    if isinstance(value, bool):
        raise ValueError(f"expected a {what}, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite {what}, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a {what}, got {type(value).__name__} {value!r}")
    return None


def parse_size(value) -> int:
    """Bytes from 4096, "4KiB", "512MiB", "16GiB", "1.5GB"."""
    n = _number(value, "size")
    if n is None:
        n, unit = _split(value, "size", '"512MiB"')
        if unit not in _SIZE_UNITS:
            raise ValueError(f"unknown size unit {unit!r} in {value!r}; use B, KiB, MiB, GiB, TiB")
        n *= _SIZE_UNITS[unit]
    return int(round(n))


def parse_pages(value) -> int:
    """Whole pages from a size: an int is a page count, a string with a unit is bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return parse_size(value) // PAGE_SIZE


def parse_duration(value) -> float:
    """Seconds from 2, "2s", "5ms", "20us", "1.5min"."""
    n = _number(value, "duration")
    if n is None:
        n, unit = _split(value, "duration", '"20us", "5ms" or "2s"')
        if unit not in _TIME_UNITS:
            raise ValueError(f"unknown time unit {unit!r} in {value!r}; use ns, us, ms, s, min, h")
        n *= _TIME_UNITS[unit]
    return n


def parse_rate(value) -> float:
    """Events per second from 150, "150/s", "2/ms"."""
    n = _number(value, "rate")
    if n is not None:
        return n
    m = _RATE.match(value)
    if not m or m.group(2).lower() not in _RATE_UNITS:
        raise ValueError(f'expected a rate such as "150/s", got {value!r}')
    return float(m.group(1)) * _RATE_UNITS[m.group(2).lower()]


def format_size(nbytes: float) -> str:
    """"512MiB", "1.5GiB": the largest binary unit the size reaches, to 3 significant digits."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if nbytes >= scale:
            value = nbytes / scale
            return f"{value:.0f}{unit}" if value >= 100 else f"{value:.3g}{unit}"
    return f"{int(nbytes)}B"
