#!/bin/bash
# live_browser.sh - the live page in a real browser: Debian's chromium,
# headless, driven by playwright-core (tests/browser, installed with
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1: no browser is downloaded) against
# `rollmat vmat --realtime -- rollmatd --http` playing live_short (a
# too-fast set, then a 24 s hold): the cue, the hold timer past 20 s, the
# muscle group changed from the page, a non-blank screenshot
# (RM_LIVE_SCREENSHOT=PATH keeps it; docs/live.png comes from here).
# Skips only when chromium cannot start, and says why.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}" "${RM_SOURCE_DIR:?}"
command -v umockdev-wrapper >/dev/null || { echo "SKIP: umockdev not installed"; exit 77; }
[ -x /usr/bin/chromium ] || { echo "SKIP: chromium cannot start: /usr/bin/chromium is not installed"; exit 77; }
command -v node >/dev/null || { echo "FAIL: node is not installed (scripts/install-deps.sh)"; exit 1; }
BR="$RM_SOURCE_DIR/tests/browser"
if [ ! -d "$BR/node_modules/playwright-core" ]; then
    (cd "$BR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null) \
        || { echo "FAIL: npm ci in tests/browser failed"; exit 1; }
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/live_browser.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir "$T/rec"
mkfifo "$T/out"
"$ROLLMAT" vmat --realtime --quiet --scenario "$RM_SOURCE_DIR/scenarios/live_short.json" -- \
    "$ROLLMATD" --socket "$T/d.sock" --recordings "$T/rec" --http=127.0.0.1:0 >"$T/out" 2>"$T/err" &
pid=$!
exec 3<"$T/out"
url=""
while read -r -t 60 line <&3; do
    case "$line" in
    "live page: "*) url=${line#live page: } ;;
    ready) break ;;
    esac
done
[ -n "$url" ] || fail "rollmatd printed no live page address: $(cat "$T/err")"
cat <&3 >/dev/null &

shot=${RM_LIVE_SCREENSHOT:-$T/live.png}
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 NODE_PATH="$BR/node_modules" node "$BR/live_page.js" "$url" "$shot"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "browser run (rollmatd log: $(tail -3 "$T/err"))"
# Non-blank: a PNG of the page's size whose pixels vary (stdlib decoder).
python3 - "$shot" <<'PY' || fail "screenshot $shot is blank or not a PNG"
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", b[16:24])
pos, idat = 8, b""
while pos < len(b):
    n, = struct.unpack(">I", b[pos:pos + 4]); kind = b[pos + 4:pos + 8]
    if kind == b"IDAT": idat += b[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
distinct = len(set(raw[i:i + 3] for i in range(0, len(raw) - 3, 7)))
print("ok: screenshot %dx%d, %d distinct byte triples" % (w, h, distinct))
assert w >= 1000 and h >= 700 and distinct > 200
PY
ls "$T/rec"/*.h5 >/dev/null 2>&1 || fail "no recording from the page's start"
echo "ok: the page's start and stop made a recording"
