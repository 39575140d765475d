"""Human units: sizes, durations, rates and pages, and the messages bad ones give."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tmemsim.units import (
    PAGE_SIZE,
    format_size,
    parse_duration,
    parse_pages,
    parse_rate,
    parse_size,
)

KiB, MiB, GiB, TiB = 1024, 1024**2, 1024**3, 1024**4


def test_page_is_4kib():
    assert PAGE_SIZE == 4096


# ---------------------------------------------------------------------------------------------
# sizes


@pytest.mark.parametrize(
    "text, expected",
    [
        (4096, 4096),
        (4096.0, 4096),
        (0, 0),
        ("4096", 4096),
        ("10B", 10),
        ("4KiB", 4 * KiB),
        ("4kib", 4 * KiB),
        ("512MiB", 512 * MiB),
        (" 512 MiB ", 512 * MiB),
        ("16GiB", 16 * GiB),
        ("1.5GiB", 3 * GiB // 2),
        ("0.5KiB", 512),
        ("1TiB", TiB),
        ("1.5GB", 1_500_000_000),
        ("3k", 3000),
        ("2MB", 2_000_000),
        ("1e3", 1000),
        ("1e3KiB", 1000 * KiB),
    ],
)
def test_parse_size(text, expected):
    got = parse_size(text)
    assert got == expected
    assert isinstance(got, int)


@pytest.mark.parametrize(
    "bad, fragments",
    [
        ("12 parsecs", ["parsecs", "MiB"]),
        ("12 MiBs", ["MiBs"]),
        ("abc", ["expected a size", "512MiB"]),
        ("", ["expected a size"]),
        ("-5MiB", ["expected a size", "-5MiB"]),
        ("5 5MiB", ["expected a size"]),
        (True, ["size"]),
        (None, ["size", "NoneType"]),
        ([1], ["size", "list"]),
    ],
)
def test_parse_size_rejects_with_a_helpful_message(bad, fragments):
    with pytest.raises(ValueError) as info:
        parse_size(bad)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_parse_size_infinite_is_a_value_error():
    with pytest.raises(ValueError):
        parse_size(float("inf"))


def test_parse_size_nan_is_a_value_error():
    with pytest.raises(ValueError):
        parse_size(float("nan"))


# ---------------------------------------------------------------------------------------------
# pages


@pytest.mark.parametrize(
    "value, expected",
    [
        (100, 100),  # an int is a page count
        (0, 0),
        ("8KiB", 2),
        ("1MiB", 256),
        ("6KiB", 1),  # whole pages, rounded down
        ("4095B", 0),
        ("1GiB", 262144),
    ],
)
def test_parse_pages(value, expected):
    assert parse_pages(value) == expected


def test_parse_pages_rejects_bad_units():
    with pytest.raises(ValueError, match="parsecs"):
        parse_pages("3 parsecs")
    with pytest.raises(ValueError):
        parse_pages(True)


# ---------------------------------------------------------------------------------------------
# durations


@pytest.mark.parametrize(
    "text, expected",
    [
        (2, 2.0),
        (0.5, 0.5),
        ("2", 2.0),
        ("2s", 2.0),
        ("2 sec", 2.0),
        ("5ms", 5e-3),
        ("20us", 20e-6),
        ("20µs", 20e-6),
        ("100ns", 100e-9),
        ("1.5min", 90.0),
        ("2m", 120.0),  # m is a minute for durations
        ("1h", 3600.0),
        ("1e-3s", 1e-3),
        ("0s", 0.0),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "bad, fragments",
    [
        ("2 parsecs", ["parsecs", "ms"]),
        ("2 fortnights", ["fortnights"]),
        ("fast", ["expected a duration", "5ms"]),
        ("-1s", ["expected a duration", "-1s"]),
        (True, ["duration"]),
        (None, ["duration"]),
        ({"mean": 1}, ["duration", "dict"]),
    ],
)
def test_parse_duration_rejects_with_a_helpful_message(bad, fragments):
    with pytest.raises(ValueError) as info:
        parse_duration(bad)
    for fragment in fragments:
        assert fragment in str(info.value)


# ---------------------------------------------------------------------------------------------
# rates


@pytest.mark.parametrize(
    "text, expected",
    [
        (150, 150.0),
        (0.5, 0.5),
        ("150/s", 150.0),
        ("150 / s", 150.0),
        ("200/sec", 200.0),
        ("2/ms", 2000.0),
        ("1/us", 1e6),
        ("60/min", 1.0),
        ("60/m", 1.0),
        ("3600/h", 1.0),
        ("1.5/S", 1.5),
    ],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("bad", ["150/parsec", "/s", "fast", "150/", "s/150", True, None])
def test_parse_rate_rejects_with_a_helpful_message(bad):
    with pytest.raises(ValueError) as info:
        parse_rate(bad)
    assert "rate" in str(info.value)
    if isinstance(bad, str):
        assert "150/s" in str(info.value)  # the message shows the expected form


# ---------------------------------------------------------------------------------------------
# formatting


@pytest.mark.parametrize(
    "nbytes, text",
    [
        (512 * MiB, "512MiB"),
        (3 * GiB // 2, "1.5GiB"),
        (4 * KiB, "4KiB"),
        (100, "100B"),
        (0, "0B"),
        (2 * TiB, "2TiB"),
    ],
)
def test_format_size(nbytes, text):
    assert format_size(nbytes) == text


@given(st.integers(min_value=1, max_value=64 * TiB))
def test_format_size_round_trips_to_three_digits(nbytes):
    back = parse_size(format_size(nbytes))
    # 3 significant digits: the relative error is at most half a unit of the third digit
    assert math.isclose(back, nbytes, rel_tol=5e-3, abs_tol=1)


@pytest.mark.parametrize("nbytes", [1000 * MiB, 1023 * KiB, 1000 * GiB])
def test_format_size_never_uses_exponent_notation(nbytes):
    text = format_size(nbytes)
    assert "e+" not in text and "E+" not in text, text
