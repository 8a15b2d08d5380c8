"""The example report under docs/ab/example opened in a headless browser (Chromium,
installed by scripts/bootstrap.sh): the page renders and every plot is there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[4] / "docs" / "ab" / "example"
FIGURES = ("fig-deltas", "fig-channels", "fig-curves", "fig-counterfactual")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless browser: install the Debian package chromium (scripts/bootstrap.sh does)")


def _run(*args: str) -> subprocess.CompletedProcess:
    # --no-sandbox: CI and the dev machines run as root, where Chromium's sandbox refuses to start
    return subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_example_report_and_its_command_are_committed():
    report = json.loads((EXAMPLE / "report.json").read_text())
    assert report["command"].startswith("encore ") and " ab " in f" {report['command']} "
    assert (EXAMPLE / "README.md").read_text().count("encore") >= 1
    assert report["online"]["truth"]["verdict"] in ("better", "worse", "no detectable difference")


@pytest.mark.slow  # a browser start: ~5 s
def test_example_report_renders_with_every_plot_in_a_browser(tmp_path):
    page = (EXAMPLE / "report.html").resolve()
    done = _run("--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    for figure in FIGURES:
        match = re.search(rf"<figure id=\"{figure}\">(.*?)</figure>", dom, re.S)
        assert match, f"{figure} missing from the rendered page"
        svg = match.group(1)
        assert "<svg" in svg and svg.count("<path") + svg.count("<use") > 10, f"{figure} has no drawing"
    assert "Verdict" in dom and "All metrics" in dom
    shot = tmp_path / "shot.png"
    done = _run(f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 50_000, done.stderr[-2000:]
