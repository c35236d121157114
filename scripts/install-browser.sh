#!/usr/bin/env bash
# `make browser`: install Debian's headless Chromium and ChromeDriver for the browser tests
# (tests/web/test_browser.py). A step you run once, as root, on a Debian-like machine; the
# test targets never install anything. Without it the browser tests skip and say so.
set -eu
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "browser: chromium and chromedriver are installed"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: run as root on a machine with apt-get, or install chromium and chromedriver" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei
echo "browser: installed chromium and chromedriver"
