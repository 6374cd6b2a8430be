"""Browser tests: real pages in Debian's headless Chromium against the running platform."""
