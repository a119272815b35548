"""Headless Chromium, for tests that check an HTML page as a person would see it.

Debian's `chromium` (`apt-get install chromium`; `.ci/run` installs it where it
can). Tests that load a page are marked `browser`, which skips them, saying why,
where it is not installed (tests/conftest.py).
"""

from __future__ import annotations

import re
import secrets
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium")
TIMEOUT_SECONDS = 120
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PROBE_ID = "convgrade-image-probe"
_CSP_META = re.compile(r'(<meta[^>]*http-equiv="Content-Security-Policy"[^>]*content=")([^"]*)(")', re.IGNORECASE)


def dump_dom(page: Path, *, budget_ms: int = 5000) -> str:
    """The page's DOM once it has loaded (and `budget_ms` of virtual time has passed), serialized."""
    return _chromium(page, "--dump-dom", f"--virtual-time-budget={budget_ms}")


def images_loaded(page: Path, workdir: Path) -> tuple[int, int]:
    """(images that loaded, images on the page).

    Loads a copy of the page with a probe script that counts, on window load,
    the images that are complete and have a natural width. Where the page's
    Content-Security-Policy forbids scripts, the copy allows the probe alone
    (by nonce) and keeps every other rule: an image the page's own policy
    blocks still counts as not loaded.
    """
    nonce = secrets.token_hex(8)
    probe = (f'<script nonce="{nonce}">window.addEventListener("load", () => {{'
             "const images = Array.from(document.images);"
             "const loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;"
             f'const out = document.createElement("pre"); out.id = "{_PROBE_ID}";'
             "out.textContent = `images ${loaded}/${images.length}`;"
             "document.body.appendChild(out); });</script>")
    text = _CSP_META.sub(lambda m: m[1] + _allowing_the_probe(m[2], nonce) + m[3], page.read_text(encoding="utf-8"))
    end = text.rfind("</body>")
    text = text[:end] + probe + text[end:] if end >= 0 else text + probe
    probed = workdir / f"probed-{page.name}"
    probed.write_text(text, encoding="utf-8")
    found = re.search(rf'<pre id="{_PROBE_ID}">images (\d+)/(\d+)</pre>', dump_dom(probed))
    if found is None:
        raise AssertionError(f"the image probe did not report: the page did not finish loading ({probed})")
    return int(found[1]), int(found[2])


def screenshot(page: Path, out: Path, *, width: int = 1200, height: int = 3000) -> tuple[int, int]:
    """Render the page into the PNG `out`; returns the PNG's (width, height)."""
    _chromium(page, f"--screenshot={out}", f"--window-size={width},{height}", "--hide-scrollbars")
    data = out.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise AssertionError(f"{out} is not a PNG")
    png_width, png_height = struct.unpack(">II", data[16:24])  # from the IHDR chunk
    return int(png_width), int(png_height)


def _allowing_the_probe(policy: str, nonce: str) -> str:
    kept = [d.strip() for d in policy.split(";") if d.strip() and not d.strip().startswith("script-src")]
    return "; ".join([*kept, f"script-src 'nonce-{nonce}'"])


def _chromium(page: Path, *arguments: str) -> str:
    assert CHROMIUM is not None, "mark the test `browser`"
    # A profile of its own: no state from, or clash with, any other browser run.
    with tempfile.TemporaryDirectory(prefix="convgrade-chromium-") as profile:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={profile}", *arguments, page.resolve().as_uri()],
            capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout
