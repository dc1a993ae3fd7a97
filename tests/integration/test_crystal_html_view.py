"""The 3D HTML view opens in headless Chromium without console errors and draws on its canvas."""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cogs.crystals.constellation import Star, explore_html
from tests.conftest import IN_CI

# Put in front of the page's own script: records errors and console.error calls before anything runs.
PROBE_HEAD = """<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
const __consoleError = console.error;
console.error = (...args) => { window.__errors.push(args.join(" ")); __consoleError(...args); };
</script>"""
# Put after it: once a few frames are drawn, count the canvas pixels painted in something other than the
# background colour (an untouched canvas is transparent, so it counts nothing).
PROBE_TAIL = """<script>
setTimeout(() => {
  const canvas = document.getElementById("view");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let lit = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const off = Math.abs(pixels[i] - 8) + Math.abs(pixels[i + 1] - 10) + Math.abs(pixels[i + 2] - 24);
    if (pixels[i + 3] > 0 && off > 30) lit++;
  }
  const out = document.createElement("pre");
  out.id = "probe";
  const report = {lit: lit, width: canvas.width, height: canvas.height, errors: window.__errors};
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
}, 500);
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if IN_CI:
            pytest.fail("chromium is not installed; CI=true requires it (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def probe(page: Path) -> dict[str, object]:
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=900,640",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.DOTALL)
    assert match is not None, f"the page never reported back; chromium said: {result.stderr[-2000:]}"
    return dict(json.loads(html.unescape(match.group(1))))


def page_with_probe(tmp_path: Path, document: str) -> Path:
    probed = document.replace("<head>", "<head>\n" + PROBE_HEAD, 1).replace(
        "</body>", PROBE_TAIL + "\n</body>"
    )
    page = tmp_path / "constellation.html"
    page.write_text(probed, encoding="utf-8")
    return page


def constellation(n: int) -> list[Star]:
    rng = np.random.default_rng(4)
    return [
        Star(i + 1, f"Theme {i + 1}", 0.3 + 0.1 * i, i * 60.0, rng.normal(size=8).tolist()) for i in range(n)
    ]


async def test_html_view_draws_the_constellation_without_errors(tmp_path: Path) -> None:
    document = explore_html(constellation(5), [(1, 2, 0.6), (2, 3, 0.4), (4, 5, 0.3)], "Sam's constellation")
    report = await asyncio.to_thread(probe, page_with_probe(tmp_path, document))
    assert report["errors"] == []
    assert isinstance(report["lit"], int) and report["lit"] > 500
    assert report["width"] and report["height"]


async def test_html_view_of_a_single_crystal_with_a_hostile_name_still_works(tmp_path: Path) -> None:
    star = Star(1, '</script><img src=x onerror="console.error(1)">', 0.9, 200.0, [1.0, 0.0])
    report = await asyncio.to_thread(probe, page_with_probe(tmp_path, explore_html([star], [], "<b>x</b>")))
    assert report["errors"] == []
    assert isinstance(report["lit"], int) and report["lit"] > 50
