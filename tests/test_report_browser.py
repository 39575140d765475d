"""report.html in a real browser: headless Chromium (Debian's `chromium`, which .ci/run installs)
renders it with no console message, its figures and its table present and the table sorted by
its own script; a screenshot is kept as a test artefact.

Chromium is driven by its command line only (`--dump-dom`, `--screenshot`, its log on stderr):
no driver library. Without a browser the tests skip and say how to get one.
The screenshot goes to $TMEMSIM_TEST_ARTIFACTS, by default build/test-artifacts/ (ignored by
git).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_html import TINY, parse

import tmemsim

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# what Chromium logs for a page's console (console.*, uncaught errors, refused requests)
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\))?:?\d*\]\s*(.*)")


def browser() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        pytest.skip("no Chromium on this machine: `apt-get install chromium` (Debian's package; "
                    ".ci/run installs it where it can) to run the browser test")
    return found


def artifacts() -> Path:
    where = Path(os.environ.get("TMEMSIM_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts"))
    where.mkdir(parents=True, exist_ok=True)
    return where


def chromium(page: Path, profile: Path, *args: str, fragment: str = "") -> tuple[str, list[str]]:
    """Run headless Chromium on a file; (stdout, the page's console messages)."""
    done = subprocess.run(
        [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", f"--user-data-dir={profile}", "--enable-logging=stderr",
         "--v=0", *args, page.resolve().as_uri() + fragment],
        capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [m.group(1) for m in map(CONSOLE.search, done.stderr.splitlines()) if m]
    return done.stdout, console


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    browser()  # skip before simulating anything
    scenario = tmemsim.load_scenario(TINY)
    out = tmemsim.compare(scenario).save(tmp_path_factory.mktemp("browser") / "out")
    return out / "report.html"


def test_the_console_check_sees_errors(tmp_path):
    """The check below could fail: a page with a script error is caught by it."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>missing();</script></body></html>")
    _, console = chromium(bad, tmp_path / "profile", "--dump-dom")
    assert any("missing is not defined" in line for line in console), console


def test_report_renders_sorted_without_console_messages(report, tmp_path):
    dom, console = chromium(report, tmp_path / "profile", "--dump-dom",
                            fragment="#sort=read%20hit%20ratio,desc")
    assert console == []
    assert 'data-sorter="ready"' in dom  # the page's own script ran to its end
    assert dom.count("<svg") == len(list((report.parent / "plots").glob("*.svg")))
    table = parse(dom).tables[0]
    values = [float(row[1][1]["data-value"]) for row in table[1:]]
    assert len(values) == 3 and values == sorted(values, reverse=True)
    assert 'aria-sort="descending"' in dom


def test_report_screenshot_is_kept(report, tmp_path):
    shot = artifacts() / "report-html.png"
    shot.unlink(missing_ok=True)
    _, console = chromium(report, tmp_path / "profile", f"--screenshot={shot}",
                          "--window-size=1280,2400", "--hide-scrollbars")
    assert console == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
