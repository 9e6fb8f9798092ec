#!/bin/bash
# live_browser.sh - the live page in a real browser: Debian's chromium,
# headless, driven by playwright-core (tests/browser, installed with
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1: no browser is downloaded) against
# `rollmat vmat --realtime -- rollmatd --http` playing live_short (a
# too-fast set, then a 24 s hold): the cue, the hold timer past 20 s, the
# muscle group changed from the page, a non-blank screenshot
# (RM_LIVE_SCREENSHOT=PATH keeps it; docs/live.png comes from here).
# Then, in the same chromium, the "Pass duration" panel: a second rollmatd
# with --profile behm2020 (a pass band, no speed band) replays a capture of
# live_pass (1 s, 3 s, 6 s passes): the band read from the profile file,
# the last pass in seconds and the cue slower, good, faster agreeing with
# it, a second non-blank screenshot (RM_LIVE_PASS_SCREENSHOT=PATH keeps it).
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
pid="" pid2=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"
    [ -n "$pid2" ] && kill "$pid2" 2>/dev/null && wait "$pid2"
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The pass-duration daemon first: a capture of live_pass with the mat's
# calibration (as tests/live_sse_pass.sh makes it), replayed at 3x from the
# page's start, so it waits idle while the first part runs.
"$ROLLMAT" vmat --fast --quiet --scenario "$RM_SOURCE_DIR/scenarios/live_pass.json" --end-signal TERM -- \
    "$ROLLMAT" record -o "$T/cap.h5" -q --capture "$T/cap.bin" --clock device --no-drop 2>"$T/cap.err" \
    || fail "capture: $(tail -2 "$T/cap.err")"
rm -f "$T/cap.h5"
# live_url FD: the "live page:" address rollmatd prints before "ready".
live_url() {
    local u="" line
    while read -r -t 60 line; do
        case "$line" in
        "live page: "*) u=${line#live page: } ;;
        ready) break ;;
        esac
    done <&"$1"
    echo "$u"
}
mkdir "$T/rec2"
mkfifo "$T/out2"
"$ROLLMATD" --socket "$T/d2.sock" --recordings "$T/rec2" --replay "$T/cap.bin" --rate 300 \
    --profile behm2020 --http=127.0.0.1:0 >"$T/out2" 2>"$T/err2" &
pid2=$!
exec 4<"$T/out2"
url2=$(live_url 4)
[ -n "$url2" ] || fail "rollmatd --profile behm2020 printed no live page address: $(cat "$T/err2")"
cat <&4 >/dev/null &
# The pass band as the profile file states it (pass_s = LO HI | source).
band=$(sed -n 's/^pass_s *= *\([0-9.]*\) *\([0-9.]*\).*/\1-\2/p' "$RM_SOURCE_DIR/profiles/behm2020.profile")
[ -n "$band" ] || fail "no pass_s band in profiles/behm2020.profile"

mkdir "$T/rec"
mkfifo "$T/out"
"$ROLLMAT" vmat --realtime --quiet --scenario "$RM_SOURCE_DIR/scenarios/live_short.json" -- \
    "$ROLLMATD" --socket "$T/d.sock" --recordings "$T/rec" --http=127.0.0.1:0 >"$T/out" 2>"$T/err" &
pid=$!
exec 3<"$T/out"
url=$(live_url 3)
[ -n "$url" ] || fail "rollmatd printed no live page address: $(cat "$T/err")"
cat <&3 >/dev/null &

shot=${RM_LIVE_SCREENSHOT:-$T/live.png}
shot2=${RM_LIVE_PASS_SCREENSHOT:-$T/live_pass.png}
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 NODE_PATH="$BR/node_modules" \
    node "$BR/live_page.js" "$url" "$shot" "$url2" "$shot2" "$band"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "browser run (rollmatd log: $(tail -3 "$T/err"); behm2020: $(tail -3 "$T/err2"))"
# Non-blank: PNGs of the page's size whose pixels vary (stdlib decoder).
for s in "$shot" "$shot2"; do
python3 - "$s" <<'PY' || fail "screenshot $s is blank or not a PNG"
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
done
ls "$T/rec"/*.h5 >/dev/null 2>&1 || fail "no recording from the page's start"
echo "ok: the page's start and stop made a recording"
ls "$T/rec2"/*.h5 >/dev/null 2>&1 || fail "no recording from the behm2020 page's start"
echo "ok: the behm2020 page's start and stop made a recording"
