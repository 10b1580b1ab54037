"""Debian's headless Chromium, as the widget and console tests and the screenshot script
drive it through playwright (`playwright install` cannot download browsers here)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""No GPU, no sandbox (root in CI), and none of Chromium's own network traffic."""
