"""What `tmemsim regress` hands a CI system: JUnit XML and a markdown summary.

JUnit XML (rendered by GitHub through a reporting action, GitLab's `artifacts:reports:junit`
and Jenkins' junit step): one test suite per scenario, one test case per (policy, guest,
metric), its failure message holding the baseline's value, the new one and the tolerance.
The markdown is a table of what moved, for a pull-request comment or $GITHUB_STEP_SUMMARY.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd


def _message(row) -> str:
    if row.metric in ("missing now", "not in baseline"):
        return f"{row.scenario}/{row.policy}/{row.guest}: {row.metric}"
    return (f"{row.metric} moved: baseline {row.baseline_text}, now {row.now_text}, "
            f"tolerance: {row.tolerance}")


def junit_xml(checks: pd.DataFrame, seconds: dict | None = None) -> str:
    """checks: one row per compared value (scenario, policy, guest, metric, baseline_text,
    now_text, tolerance, moved); seconds: each scenario's wall time."""
    root = ET.Element("testsuites", name="tmemsim regress", tests=str(len(checks)),
                      failures=str(int(checks["moved"].sum()) if len(checks) else 0))
    for scenario, rows in checks.groupby("scenario", sort=False):
        suite = ET.SubElement(root, "testsuite", name=str(scenario), tests=str(len(rows)),
                              failures=str(int(rows["moved"].sum())), errors="0",
                              time=f"{(seconds or {}).get(scenario, 0.0):.3f}")
        for row in rows.itertuples(index=False):
            case = ET.SubElement(suite, "testcase", classname=f"{scenario}.{row.policy}",
                                 name=f"{row.guest} {row.metric}", time="0")
            if row.moved:
                message = _message(row)
                failure = ET.SubElement(case, "failure", message=message, type="moved")
                failure.text = message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _cell(text) -> str:
    return str(text).replace("|", "\\|")


def markdown(checks: pd.DataFrame, command: str = "") -> str:
    """A summary: how many values were checked and a table of those that moved."""
    scenarios = checks["scenario"].nunique() if len(checks) else 0
    moved = checks[checks["moved"]] if len(checks) else checks
    lines = ["## tmemsim regress", ""]
    if moved.empty:
        lines.append(f"Nothing moved: {len(checks)} value(s) in {scenarios} scenario(s) checked "
                     f"against the baseline.")
    else:
        lines += [f"**{len(moved)} value(s) moved** in {moved['scenario'].nunique()} of "
                  f"{scenarios} scenario(s) ({len(checks)} checked).", "",
                  "| scenario | policy | guest | metric | baseline | now | tolerance |",
                  "|:---|:---|:---|:---|---:|---:|:---|"]
        for r in moved.itertuples(index=False):
            lines.append("| " + " | ".join(_cell(v) for v in (
                r.scenario, r.policy, r.guest, r.metric, r.baseline_text, r.now_text,
                r.tolerance)) + " |")
        lines += ["", "If this is intended, update the baseline with `tmemsim regress --update` "
                  "and say why in the commit."]
    if command:
        lines += ["", f"`{command}`"]
    return "\n".join(lines) + "\n"


__all__ = ["junit_xml", "markdown"]
