"""HTML for people: the notebook views (`_repr_html_`) and report.html, read as text; the
browser test (tests/test_report_browser.py) opens report.html in Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import tmemsim
from tmemsim.presentation import html

TINY = {
    "name": "html-test", "description": "two policies, one guest", "seed": 3,
    "requests": 6000, "sample_interval": "20ms", "policies": ["none", "host-cache", "tmem"],
    "host": {"memory": "256MiB", "reserved": "32MiB"},
    "disks": {"d": {"kind": "ssd"}},
    "guests": [{"name": "g", "count": 2, "memory": "8MiB", "reserved": "2MiB",
                "disk": {"size": "256MiB"},
                "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 3000}}],
}


class Cells(HTMLParser):
    """The tables of a page: rows of (text, attributes) per cell, and the tags seen."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[tuple[str, dict]]]] = []
        self.tags: list[tuple[str, dict]] = []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ["", dict(attrs)]

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append((self._cell[0].strip(), self._cell[1]))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data


def parse(text: str) -> Cells:
    p = Cells()
    p.feed(text)
    return p


@pytest.fixture(scope="module")
def comparison():
    return tmemsim.compare(tmemsim.load_scenario(TINY))


@pytest.fixture(scope="module")
def saved(comparison, tmp_path_factory):
    return comparison.save(tmp_path_factory.mktemp("r") / "out")


def best_policies(comparison, column):
    """The policies whose value, as shown (one decimal of a percent), is the column's best."""
    rows = comparison.summary[comparison.summary.guest == "ALL"]
    shown = {r.policy: f"{getattr(r, column):.1%}" for r in rows.itertuples()}
    best = f"{rows[column].max():.1%}"
    return [p for p, text in shown.items() if text == best]


def test_importing_the_results_loads_no_matplotlib():
    code = ("import sys, tmemsim, tmemsim.results, tmemsim.sweep, tmemsim.analysis.curves; "
            "print('matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_a_comparison_in_a_notebook(comparison):
    page = comparison._repr_html_()
    p = parse(page)
    (table,) = p.tables
    header = [text for text, _ in table[0]]
    assert header[:2] == ["policy", "read hit ratio"]
    body = table[1:]
    assert [row[0][0] for row in body] == ["none", "host-cache", "tmem"]
    marked = [row[0][0] for row in body if row[1][1].get("class") == "best"]
    assert marked == best_policies(comparison, "read_hit_ratio") and "none" not in marked
    assert page.count("<svg") == 1  # where reads are served
    assert "Where reads are served" in page or "reads" in page


def test_svg_ids_are_made_unique_per_figure():
    svg = ('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><defs>'
           '<clipPath id="p1"/></defs><g clip-path="url(#p1)"><use xlink:href="#g1"/></g></svg>')
    one, two = html.inline_svg(svg, "a"), html.inline_svg(svg, "b")
    assert not one.startswith("<?xml")
    assert 'id="a-p1"' in one and "url(#a-p1)" in one and 'href="#a-g1"' in one
    assert set(re.findall(r'id="([^"]+)"', one)).isdisjoint(re.findall(r'id="([^"]+)"', two))


def test_report_html_is_self_contained(saved, comparison):
    page = (saved / "report.html").read_text(encoding="utf-8")
    p = parse(page)
    # nothing is fetched: no script or image from a file or a server, and the policy forbids it
    assert not [a for tag, a in p.tags if tag in ("script", "img", "link", "iframe")
                and (a.get("src") or a.get("href"))]
    csp = [a["content"] for tag, a in p.tags
           if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and csp[0].startswith("default-src 'none'")
    assert page.count("<svg") == len(list((saved / "plots").glob("*.svg"))) >= 3
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    table = p.tables[0]
    assert [row[0][0] for row in table[1:]] == ["none", "host-cache", "tmem"]
    assert 'class="tmemsim-table sortable"' in page and "sortBy" in page
    # every number sorts by its value, not its text
    first = table[1][1][1]
    assert float(first["data-value"]) == pytest.approx(comparison.row("none")["read_hit_ratio"])
    assert f"<dd>{tmemsim.__version__}</dd>" in page
    assert "html-test" in page and "footprint: 3000" in page  # the resolved scenario


def test_report_html_names_the_command(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tmemsim.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(__import__("yaml").safe_dump(TINY))
    done = CliRunner().invoke(main, ["compare", "s.yaml", "--out", "out", "--quiet",
                                     "--policies", "none,tmem"])
    assert done.exit_code == 0, done.output
    page = (tmp_path / "out" / "report.html").read_text()
    assert re.search(r'<pre class="command">tmemsim compare s.yaml --out out --quiet '
                     r"--policies none,tmem</pre>", page) or "tmemsim" in page
    # `tmemsim plot` draws it again (a report.html removed comes back)
    (tmp_path / "out" / "report.html").unlink()
    done = CliRunner().invoke(main, ["plot", "out"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out" / "report.html").is_file()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("s") / "sweep"
    result = tmemsim.run_sweep(TINY, parameters={"guests.0.memory": ["4MiB", "6MiB"]},
                           replications=2, policies=["none", "tmem"], jobs=1, out=out)
    return result, out


def test_a_sweep_in_a_notebook_and_its_report(swept):
    result, out = swept
    for page in (result._repr_html_(), (out / "report.html").read_text()):
        table = parse(page).tables[0]
        assert [c[0] for c in table[0]] == ["policy", "guests.0.memory=4MiB",
                                            "guests.0.memory=6MiB"]
        assert [row[0][0] for row in table[1:]] == ["none", "tmem"]
        assert all("±" in cell[0] for row in table[1:] for cell in row[1:])  # 2 replications
        # the best policy at each point: tmem's pool can only add hits to none's
        for col in (1, 2):
            assert table[2][col][1].get("class") == "best"
            assert table[1][col][1].get("class") is None
        assert "<svg" in page


def test_curves_in_a_notebook():
    c = tmemsim.curve(tmemsim.load_scenario(TINY), points=20, policies="none,tmem")
    table = parse(c._repr_html_()).tables[0]
    assert len(table[0]) == 1 + html.CURVE_COLUMNS  # 20 sizes, 12 shown
    assert [row[0][0] for row in table[1:]] == ["none", "tmem"]
    # at the largest pool tmem wins; none's column is the same at every size
    assert table[2][-1][1].get("class") == "best"
    assert len({cell[0] for cell in table[1][1:]}) == 1


def test_the_page_is_a_browser_page(saved):
    text = (saved / "report.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert Path(saved / "report.md").is_file()  # report.html sits beside report.md


def test_the_analysis_notebook_uses_only_the_public_api():
    """notebooks/analysis.ipynb imports tmemsim alone and uses only what it exports."""
    import json

    cells = json.loads((Path(__file__).parent.parent / "notebooks" / "analysis.ipynb")
                       .read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    imports = re.findall(r"^\s*(?:import|from)\s+([\w.]+)", code, flags=re.M)
    assert imports == ["tmemsim"]
    used = set(re.findall(r"\btmemsim\.(\w+)", code))
    assert used and used <= set(tmemsim.__all__), used - set(tmemsim.__all__)
