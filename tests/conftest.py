"""Fixtures shared by every test folder."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

DumpDom = Callable[..., str]

# The flags that keep headless Chromium off the network (this machine has none: without them it retries
# Google's hosts at every start).
_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture
def dump_dom(tmp_path: Path) -> DumpDom:
    """Render a local page in headless Chromium and return its DOM after the scripts ran.

    Skips the test when Chromium is not installed (`make browser` installs Debian's package).
    """
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install -y chromium; make browser)")
    flags = [*_CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]

    def render(page: Path, screenshot: Path | None = None) -> str:
        if screenshot is not None:
            subprocess.run(
                [chromium, *flags, f"--screenshot={screenshot}", "--window-size=1400,2400", page.as_uri()],
                check=True,
                capture_output=True,
                timeout=60,
            )
        done = subprocess.run(
            [chromium, *flags, "--dump-dom", page.as_uri()],
            check=True,
            capture_output=True,
            timeout=60,
            text=True,
        )
        return done.stdout

    return render
