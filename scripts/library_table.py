"""The README's scenario-library table: run every library scenario, name the winner and margin.

Usage: python scripts/library_table.py [--short] [--write README.md]
Without --write it prints the markdown table; with it, replaces the table between the
<!-- library-table --> markers of the README. --short uses each scenario's regress settings.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import tmemsim
from tmemsim.analysis.regress import regress_overrides

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ["quickstart", "reread-after-discard", "cow-clones", "full-copies", "double-caching",
           "write-churn", "shifting-demand", "swap-pressure", "memory-split", "trace-replay",
           "real-vm-clones", "compressed-pool", "inferred-evictions", "ksm-merging",
           "sequential-readahead", "guest-readahead"]
MARK = "<!-- library-table -->"
# what "winning" means where the read hit ratio is not the point
METRIC = {"swap-pressure": "throughput_ops", "write-churn": "throughput_ops",
          "reread-after-discard": "throughput_ops", "sequential-readahead": "throughput_ops",
          "guest-readahead": "throughput_ops"}


def row(name: str, short: bool) -> str | None:
    path = ROOT / "scenarios" / f"{name}.yaml"
    if not path.exists():
        return None
    s = tmemsim.load_scenario(path, regress_overrides(path) if short else None)
    summary = tmemsim.compare(s, jobs=2).summary
    metric = METRIC.get(name, "read_hit_ratio")
    all_rows = summary[summary.guest == "ALL"].sort_values(metric, ascending=False)
    best, second = all_rows.iloc[0], all_rows.iloc[1]
    base = summary[(summary.guest == "ALL") & (summary.policy == summary.policy.iloc[0])].iloc[0]
    fewer = 1 - best.disk_reads / base.disk_reads if base.disk_reads else 0.0
    if metric == "read_hit_ratio":
        value = f"{best.read_hit_ratio:.1%} read hits"
        margin = f"+{(best.read_hit_ratio - second.read_hit_ratio) * 100:.1f} pp"
    else:
        value = f"{best[metric]:,.0f} ops/s"
        margin = f"×{best[metric] / second[metric]:.2f}"
    margin = f"{margin} over {second.policy}"
    if best[metric] == second[metric]:
        margin = f"tie with {second.policy}"
    return f"| `{name}` | {best.policy} | {value} | {margin} | {fewer:.0%} fewer than {base.policy} |"


def table(short: bool) -> str:
    lines = ["| scenario | winner | by | margin | disk reads |",
             "|---|---|---|---|---|"]
    lines += [r for r in (row(n, short) for n in LIBRARY) if r]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    text = table(args.short)
    if args.write:
        readme = args.write.read_text()
        pattern = re.compile(f"{re.escape(MARK)}.*?{re.escape(MARK)}", re.S)
        args.write.write_text(pattern.sub(f"{MARK}\n{text}\n{MARK}", readme))
    print(text)


if __name__ == "__main__":
    main()
