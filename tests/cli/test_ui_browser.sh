#!/usr/bin/env bash
# The web page in a real browser: tests/ui/test_ui.py (headless Chromium through Selenium,
# two daemons of its own on free loopback ports, its own temp dir). Skipped (77) without
# Debian's chromium, chromedriver and python3-selenium. Screenshots: $KITH_UI_ARTIFACTS,
# else <build>/ui-artifacts.
: "${KITH:?set KITH to the kith binary}"
dir=${KITH_TEST_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
for exe in /usr/bin/chromium /usr/bin/chromedriver /usr/bin/python3; do
    [ -x "$exe" ] || { echo "skip: $exe is missing"; exit 77; }
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || { echo "skip: python3-selenium is missing"; exit 77; }
export KITH
exec /usr/bin/python3 "$dir/ui/test_ui.py"
