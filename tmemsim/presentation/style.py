"""The one style of tmemsim's figures: policy and guest colours, shades, and how figures are saved.

Every figure module takes its colours from here, so a policy looks the same in a comparison, a
sweep and a notebook. The palettes are colour-blind safe (Okabe–Ito, Tol "muted"). Built with
the object API (`matplotlib.figure.Figure`): no pyplot state, no GUI backend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import matplotlib
import numpy as np
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure

# Okabe–Ito colours: distinguishable under the common colour-vision deficiencies.
POLICY_COLORS: Mapping[str, str] = MappingProxyType(
    {
        "none": "#666666",
        "host-cache": "#0072B2",
        "host-exclusive": "#CC79A7",  # reddish purple: apart from host-cache's blue
        "tmem": "#D55E00",
        "dedup": "#009E73",
    }
)

# Unknown policies (variants such as "tmem+shared") draw from the Okabe–Ito colours left over,
# extended with dark Tol "muted" colours so several variants rarely have to share one. (It keeps
# host-exclusive's, so that no variant's colour moved when that kind got it; policy_colors
# gives a variant a free colour when both are in one comparison.)
FALLBACK_PALETTE: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#CC79A7",
    "#000000",
    "#882255",
    "#332288",
    "#999933",
    "#DDCC77",
)

# Guests are told apart by colour only inside one panel; Tol "muted" is colour-blind safe.
GUEST_PALETTE: tuple[str, ...] = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)

# Series that are not policies (Zipf exponents, queue models): Okabe–Ito in its usual order.
SERIES_PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
)

DISK_FACE = "#E8E8E8"
NEUTRAL = "#555555"


class PlotDataWarning(UserWarning):
    """The results lack data a figure needs; the figure skips that part."""


def _stable_index(name: str, modulo: int) -> int:
    # sha256, not hash(): str hashes are salted per process and would change colours per run.
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % modulo


def policy_color(name: str) -> str:
    """The colour of one policy: fixed for known names, a stable hash pick for the others."""
    if name in POLICY_COLORS:
        return POLICY_COLORS[name]
    return FALLBACK_PALETTE[_stable_index(name, len(FALLBACK_PALETTE))]


def policy_colors(policies: Iterable[str]) -> dict[str, str]:
    """Colours for the policies of one comparison; a hash collision moves on to a free colour."""
    policies = list(policies)
    taken = {POLICY_COLORS[p] for p in policies if p in POLICY_COLORS}
    colors: dict[str, str] = {}
    for name in policies:
        if name in POLICY_COLORS:
            colors[name] = POLICY_COLORS[name]
            continue
        colors[name] = _free_fallback(name, taken)
        taken.add(colors[name])
    return colors


def _free_fallback(name: str, taken: set[str]) -> str:
    start = _stable_index(name, len(FALLBACK_PALETTE))
    for step in range(len(FALLBACK_PALETTE)):
        candidate = FALLBACK_PALETTE[(start + step) % len(FALLBACK_PALETTE)]
        if candidate not in taken:
            return candidate
    # More variants than colours: repeating one beats failing to draw.
    return FALLBACK_PALETTE[start]


def lighten(color: str, amount: float) -> str:
    """Mix a colour with white; amount 0 keeps it, 1 gives white."""
    rgb = np.array(to_rgb(color))
    return to_hex(rgb + (1.0 - rgb) * amount)


def guest_colors(guests: Sequence[str]) -> list[str]:
    """One colour per guest of a panel: Tol "muted" while it lasts, then viridis steps."""
    if len(guests) <= len(GUEST_PALETTE):
        return list(GUEST_PALETTE[: len(guests)])
    cmap = matplotlib.colormaps["viridis"]
    return [to_hex(cmap(x)) for x in np.linspace(0.0, 0.95, len(guests))]


def save_figures(figs: Mapping[str, Figure], plots_dir: str | Path) -> list[Path]:
    """Write <name>.png (dpi 120) and <name>.svg per figure; returns the paths written."""
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # A fixed salt and no dates make the files byte-identical across runs, so diffs stay quiet.
    with matplotlib.rc_context({"svg.hashsalt": "tmemsim"}):
        for name, fig in figs.items():
            png, svg = plots_dir / f"{name}.png", plots_dir / f"{name}.svg"
            fig.savefig(png, dpi=120, metadata={"Software": None})
            fig.savefig(svg, metadata={"Date": None})
            written += [png, svg]
    return written
