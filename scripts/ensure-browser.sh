#!/usr/bin/env bash
# Best effort: install Debian's headless Chromium and ChromeDriver for the browser tests.
# Browser tests skip with a clear message when this cannot be done (no root, no apt).
set -u
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: chromium not installed and cannot install it here; browser tests will skip" >&2
  exit 0
fi
echo "ensure-browser: installing chromium and chromium-driver from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null 2>&1 \
  || echo "ensure-browser: install failed; browser tests will skip" >&2
exit 0
