"""Debian's Chromium as the browser tests and the browser benchmark launch it (Playwright
drives it; `playwright install` is never used, so nothing is downloaded)."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
