"""The figure of a curve: read hit ratio and disk reads against the axis, one line per policy,
the points of full runs (--check-points) drawn over the lines. Drawn from the table only."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from .style import NEUTRAL, policy_colors, save_figures

MIB = 2**20
_AXIS_LABELS = {"pool": "hypervisor pool (MiB)", "split": "memory per guest (MiB); the pool "
                "takes the rest", "guest-memory": "memory per guest (MiB), no pool"}


def figure(table, meta) -> Figure:
    """The two panels of a curve table (Curves.table) and its meta."""
    policies = list(meta.get("policies") or dict.fromkeys(table["policy"]))
    colors = policy_colors(policies)
    axis = meta.get("axis", "pool")
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    panels = fig.subplots(1, 2)
    t = table[table.guest == "ALL"]
    for ax, metric, label in ((panels[0], "read_hit_ratio", "read hit ratio"),
                              (panels[1], "disk_reads", "disk reads (measured window)")):
        for policy in policies:
            rows = t[(t.policy == policy) & (t.metric == metric)]
            line = rows[rows.source == "curve"].sort_values("axis_bytes")
            ax.plot(line.axis_bytes / MIB, line.value, color=colors[policy], lw=1.8,
                    label=policy)
            sim = rows[rows.source == "simulated"]
            if len(sim):
                ax.plot(sim.axis_bytes / MIB, sim.value, "o", color=colors[policy], ms=6,
                        mfc="white", mew=1.6)
        ax.set_xlabel(_AXIS_LABELS.get(axis, axis))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    panels[0].set_ylim(0, 1.02)
    handles, labels = panels[0].get_legend_handles_labels()
    if (t.source == "simulated").any():
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], ls="", marker="o", color=NEUTRAL, mfc="white"))
        labels.append("full run")
    panels[0].legend(handles, labels, fontsize=8, loc="lower right")
    title = f"{meta.get('scenario', '')}: hit-ratio curves along the {axis} axis"
    if meta.get("sample"):
        title += f" (sampled, R = {meta['sample']})"
    fig.suptitle(title)
    return fig


def save_figure(fig: Figure, stem) -> list[Path]:
    """stem.png (dpi 120) and stem.svg, byte-identical across runs."""
    stem = Path(stem)
    return save_figures({stem.name: fig}, stem.parent)
