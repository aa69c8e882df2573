#!/bin/sh
# Renders a debias HTML report to a PNG in headless Chromium (Debian: `apt install chromium`),
# offline, so that a person can look at it or a test can check it is a real page:
#
#   tests/render-report.sh REPORT.html OUT.png [WIDTH,HEIGHT]
#
# The browser is $CHROMIUM, else the first of chromium, chromium-browser, google-chrome on PATH.
# Exit codes: 0 written; 3 no browser found; 1 the browser failed or wrote nothing.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2
  exit 1
fi
html=$1
png=$2
size=${3:-1200,3000}
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
if [ -z "$browser" ]; then
  echo "render-report: no Chromium found; install Debian's chromium package (apt install chromium) or set CHROMIUM" >&2
  exit 3
fi
if [ ! -f "$html" ]; then
  echo "render-report: $html does not exist" >&2
  exit 1
fi
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$png"
# --no-sandbox: CI runs as root. No network is needed: the page is self-contained.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --disable-extensions --disable-background-networking --user-data-dir="$profile" \
  --window-size="$size" --screenshot="$png" "file://$abs" >"$profile/log" 2>&1 || {
  cat "$profile/log" >&2
  exit 1
}
if [ ! -s "$png" ]; then
  cat "$profile/log" >&2
  echo "render-report: the browser wrote no image" >&2
  exit 1
fi
echo "$png"
