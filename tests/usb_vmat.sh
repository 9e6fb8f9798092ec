#!/bin/bash
# usb_vmat.sh - `rollmat vmat` end to end: the virtual mat on emulated USB
# (umockdev) seen by clients nobody here wrote (lsusb) and by our own
# commands (`rollmat devices`, `rollmat record`): descriptors, exit status,
# option errors, 10,000+ frames recorded without loss and equal to what the
# model sends, injected fault counts equal to the recording's events, and an
# unplug + replug giving one recording, SIGTERM and SIGKILL of the recorder.
set -u
: "${ROLLMAT:?}"
[ -x "$ROLLMAT" ] || { echo "SKIP: no rollmat at $ROLLMAT"; exit 77; }
command -v umockdev-wrapper >/dev/null || { echo "SKIP: umockdev not installed"; exit 77; }
"$ROLLMAT" vmat --help | grep -q "COMMAND" || { echo "SKIP: rollmat built without umockdev"; exit 77; }

PY=/usr/bin/python3
$PY -c 'import h5py, numpy' 2>/dev/null || PY=""

T=$(mktemp -d "${TMPDIR:-/tmp}/usb_vmat.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
step_fails=0
ok() { [ $fails -eq $step_fails ] && echo "ok: $*"; step_fails=$fails; }

json_get() { # FILE KEY -> value of a top-level number/string
    sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1"
}

# 1. lsusb (usbutils) reads the emulated descriptors; the device answers
#    the standard requests lsusb -v makes (status, qualifier) without errors.
if command -v lsusb >/dev/null; then
    "$ROLLMAT" vmat --quiet -- lsusb -v -d 1209:0001 >"$T/lsusb.out" 2>"$T/lsusb.err"
    rc=$?
    [ $rc -eq 0 ] || fail "lsusb -v exited $rc"
    for pat in "idVendor *0x1209" "idProduct *0x0001" "iSerial *3 VMAT-" \
        "bInterfaceClass *255" "bEndpointAddress *0x81 *EP 1 IN" "wMaxPacketSize *0x0200" \
        "Transfer Type *Bulk" "Device Qualifier" "Device Status: *0x0000"; do
        grep -Eq "$pat" "$T/lsusb.out" || fail "lsusb -v: no line matching '$pat'"
    done
    if grep -Eiq "cannot|couldn't|error" "$T/lsusb.err"; then
        fail "lsusb -v complained: $(head -3 "$T/lsusb.err")"
    fi
    ok "lsusb -v prints the RM-1 descriptors"
else
    echo "note: lsusb not installed, descriptor check skipped"
fi

# 2. our own client finds the mat; the serial is the one vmat reports
"$ROLLMAT" vmat --fast --counts "$T/dev.json" -- "$ROLLMAT" devices --json >"$T/dev.out" 2>"$T/dev.err" \
    || fail "rollmat devices under vmat failed: $(cat "$T/dev.err")"
serial=$(json_get "$T/dev.json" serial)
grep -q "\"$serial\"" "$T/dev.out" || fail "rollmat devices does not list serial '$serial'"
grep -q '"rows": 64' "$T/dev.out" || fail "rollmat devices: no GET_INFO geometry"
ok "rollmat devices sees $serial"

# 3. exit status of COMMAND, option errors
"$ROLLMAT" vmat --quiet -- sh -c 'exit 7'
[ $? -eq 7 ] || fail "exit status of COMMAND not passed through"
# -q is --quiet, as in the other commands: accepted, and no summary on stderr
"$ROLLMAT" vmat -q -- sh -c 'exit 7' 2>"$T/q.err"
[ $? -eq 7 ] || fail "rollmat vmat -q: not accepted ($(head -1 "$T/q.err"))"
[ ! -s "$T/q.err" ] || fail "rollmat vmat -q printed on stderr: $(head -1 "$T/q.err")"
for bad in "" "--fault bogus=1 -- true" "--fault corrupt=2 -- true" "--rate 5 -- true" \
    "--fault replug-after=1 -- true" "--end-signal NOPE -- true"; do
    # shellcheck disable=SC2086
    "$ROLLMAT" vmat $bad >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -eq 2 ] || fail "rollmat vmat $bad: exit $rc, expected 2"
    [ "$(wc -l <"$T/err")" -ge 1 ] && grep -q "^rollmat vmat: " "$T/err" \
        || fail "rollmat vmat $bad: no one-line error"
done
"$ROLLMAT" vmat --scenario /nonexistent.json -- true 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "missing scenario: exit $rc, expected 1"
grep -q "nonexistent" "$T/err" || fail "missing scenario: message does not name the file"
ok "exit status and option errors"

# 4. 10,000+ frames at 1 kHz in real time: nothing lost, bytes and frames
#    equal to what the model sends (rollmat simulate gives the same bytes).
#    The host ring holds the whole run, so a slow (sanitized) writer cannot
#    turn into loss: loss here would be the transport's.
"$ROLLMAT" vmat --realtime --scenario guide --seed 5 --rate 1000 --time-scale 0.024 \
    --end-signal TERM --counts "$T/big.json" -- \
    "$ROLLMAT" record -o "$T/big.h5" -q --ring 12000 --capture "$T/big.bin" 2>"$T/big.err"
rc=$?
[ $rc -eq 0 ] || fail "record of 10k frames exited $rc: $(tail -3 "$T/big.err")"
produced=$(json_get "$T/big.json" frames_produced)
[ "${produced:-0}" -ge 10000 ] || fail "only ${produced:-0} frames produced, want 10,000+"
"$ROLLMAT" simulate --scenario guide --seed 5 --rate 1000 --time-scale 0.024 \
    --stream "$T/sim.bin" -o "$T/sim.h5" -q || fail "simulate failed"
cmp -s "$T/big.bin" "$T/sim.bin" || fail "captured USB stream differs from the model's stream"
"$ROLLMAT" info "$T/big.h5" >"$T/big.info" || fail "rollmat info of the recording failed"
grep -Eq "^frames: *$produced\$" "$T/big.info" || fail "recording holds $(grep '^frames:' "$T/big.info"), want $produced"
grep -Eq "^gaps: *0 events" "$T/big.info" || fail "gaps in a fault-free recording"
if [ -n "$PY" ]; then
    $PY - "$T/big.h5" "$T/sim.h5" <<'EOF' || fail "recorded frames differ from the model's"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for k in ("raw", "seq", "t_device_us", "flags"):
    x, y = a["frames/" + k][...], b["frames/" + k][...]
    if x.shape != y.shape or not np.array_equal(x, y):
        sys.exit("frames/%s differs: %s vs %s" % (k, x.shape, y.shape))
EOF
fi
ok "$produced frames over USB, none lost, content equal"

# 5. injected faults: the recording's events count exactly what the mat
#    injected (each corrupt, truncated and dropped frame is missing from seq).
"$ROLLMAT" vmat --fast --scenario faulty --seed 3 --time-scale 0.3 \
    --fault corrupt=0.01,truncate=0.01,garbage=0.02,drop=0.01 \
    --end-signal TERM --counts "$T/f.json" -- \
    "$ROLLMAT" record -o "$T/f.h5" -q --ring 16384 --capture "$T/f.bin" 2>"$T/f.err"
rc=$?
[ $rc -eq 0 ] || fail "faulty record exited $rc: $(tail -3 "$T/f.err")"
"$ROLLMAT" export "$T/f.h5" --events -o "$T/f.csv" || fail "export --events failed"
count_kind() { awk -F, -v k="$1" 'NR > 1 && $2 == k { n++ } END { print n + 0 }' "$T/f.csv"; }
sum_kind() { awk -F, -v k="$1" 'NR > 1 && $2 == k { s += $3 } END { print s + 0 }' "$T/f.csv"; }
c_corrupt=$(json_get "$T/f.json" frames_corrupt)
c_trunc=$(json_get "$T/f.json" frames_truncated)
c_drop=$(json_get "$T/f.json" frames_dropped)
c_gbytes=$(json_get "$T/f.json" garbage_bytes)
c_sent=$(json_get "$T/f.json" frames_sent)
[ "$c_corrupt" -gt 0 ] && [ "$c_trunc" -gt 0 ] && [ "$c_drop" -gt 0 ] && [ "$c_gbytes" -gt 0 ] \
    || fail "the faults were not all injected: $(tr -d '\n' <"$T/f.json")"
[ "$(count_kind corrupt)" -eq "$c_corrupt" ] || fail "corrupt events $(count_kind corrupt) != injected $c_corrupt"
[ "$(count_kind truncated)" -eq "$c_trunc" ] || fail "truncated events $(count_kind truncated) != injected $c_trunc"
missing=$((c_corrupt + c_trunc + c_drop))
[ "$(sum_kind gap)" -eq "$missing" ] || fail "frames missing in gaps $(sum_kind gap) != $missing (corrupt+truncated+dropped)"
grep -Eq "^frames: *$c_sent\$" <("$ROLLMAT" info "$T/f.h5") || fail "recording does not hold the $c_sent intact frames"
grep -q "$c_gbytes garbage bytes" <("$ROLLMAT" info "$T/f.h5") || fail "garbage bytes differ from the injected $c_gbytes"
"$ROLLMAT" simulate --scenario faulty --seed 3 --time-scale 0.3 \
    --fault corrupt=0.01,truncate=0.01,garbage=0.02,drop=0.01 --stream "$T/fsim.bin" -q
cmp -s "$T/f.bin" "$T/fsim.bin" || fail "captured faulty stream differs from the model's"
ok "fault counts: corrupt $c_corrupt, truncated $c_trunc, dropped $c_drop, garbage $c_gbytes bytes"

# 6. unplug at 20 s of mat time, replug 0.5 s later: one recording with a
#    disconnect and a reconnect event. The host STARTs the replugged mat and
#    its seq restarts at 0 (datasheet) while its clock goes on: no gap event
#    for the restart, frames in device-time order, and exactly the frames
#    the mat delivered whole (the one cut by the unplug is a truncated
#    event), each equal to the model's frame at the same device time.
#    --rate: the host sets the rate again on the replugged mat (a stopped
#    mat accepts its own rate).
"$ROLLMAT" vmat --fast --scenario guide --seed 2 --time-scale 0.2 \
    --fault unplug-at=20,replug-after=0.5 --end-signal TERM --counts "$T/u.json" -- \
    "$ROLLMAT" record -o "$T/u.h5" -q --ring 16384 --rate 100 2>"$T/u.err"
rc=$?
[ $rc -eq 0 ] || fail "record across unplug exited $rc: $(tail -3 "$T/u.err")"
[ "$(json_get "$T/u.json" plugs)" = 2 ] || fail "the mat was not plugged in twice"
"$ROLLMAT" export "$T/u.h5" --events -o "$T/u.csv" || fail "export --events failed"
[ "$(grep -c ',disconnect,' "$T/u.csv")" -eq 1 ] || fail "want one disconnect event: $(cat "$T/u.csv")"
[ "$(grep -c ',reconnect,' "$T/u.csv")" -eq 1 ] || fail "want one reconnect event: $(cat "$T/u.csv")"
[ "$(grep -c ',gap,' "$T/u.csv")" -eq 0 ] || fail "the seq restart was recorded as a gap: $(grep ',gap,' "$T/u.csv")"
u_sent=$(json_get "$T/u.json" frames_sent)
u_bytes=$(json_get "$T/u.json" bulk_bytes)
u_frames=$(sed -n 's/^frames: *\([0-9]*\)$/\1/p' <("$ROLLMAT" info "$T/u.h5"))
u_wire=$((32 + 64 * 48 * 2 + 4)) # header + payload + CRC of a 64x48 frame
# a fault-free stream: every whole frame delivered is recorded; only the
# frame the unplug cut short is missing
[ "${u_frames:-0}" -gt 0 ] && [ "$u_frames" -eq $((u_bytes / u_wire)) ] && [ "$u_frames" -le "$u_sent" ] \
    || fail "recording has ${u_frames:-?} frames, the mat delivered $((u_bytes / u_wire)) whole ($u_sent sent)"
if [ -n "$PY" ]; then
    "$ROLLMAT" simulate --scenario guide --seed 2 --time-scale 0.2 -o "$T/usim.h5" -q \
        || fail "simulate of the unplug scenario failed"
    $PY - "$T/u.h5" "$T/usim.h5" <<'EOF' || fail "frames across the replug are not the mat's, in order"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
seq = a["frames/seq"][...].astype(np.int64)
td = a["frames/t_device_us"][...].astype(np.int64)
tm = a["frames/time"][...]
# device time strictly increasing, host time never going back (--fast
# delivers frames in bursts with one host time)
if len(seq) < 2 or not np.all(np.diff(td) > 0) or not np.all(np.diff(tm) >= 0):
    sys.exit("frames not in time order across the replug")
back = np.nonzero(np.diff(seq) != 1)[0]
if seq[0] != 0 or len(back) != 1 or seq[back[0] + 1] != 0:
    sys.exit("want seq 0..a-1 then 0..b-1 (one restart at the replug), breaks at %s" % back)
k = back[0] + 1  # first frame after the replug
sim_td = b["frames/t_device_us"][...].astype(np.int64)
idx = np.searchsorted(sim_td, td)
if np.any(idx >= len(sim_td)) or not np.array_equal(sim_td[np.minimum(idx, len(sim_td) - 1)], td):
    sys.exit("recorded device times that the model never produced")
if not np.array_equal(idx[:k], np.arange(k)):
    sys.exit("frames before the unplug are not the model's first %d" % k)
if not np.array_equal(idx[k:], idx[k] + np.arange(len(idx) - k)) or idx[-1] != len(sim_td) - 1:
    sys.exit("frames after the replug do not continue the scenario to its end")
if not np.array_equal(seq[k:], idx[k:] - idx[k]):
    sys.exit("seq after the replug does not count from 0 at START")
for n in list(range(0, len(idx), 97)) + [k - 1, k, len(idx) - 1]:
    if not np.array_equal(a["frames/raw"][n], b["frames/raw"][idx[n]]):
        sys.exit("frame %d differs from the model's frame %d" % (n, idx[n]))
EOF
fi
ok "unplug and replug: one recording, $u_frames frames, seq restarts at 0 without a gap"

# 7. SIGTERM (test 4 ended the recorder so) closed the file cleanly; SIGKILL
#    leaves a file that opens and holds frames equal to the model's, in order.
grep -Eq "^status: *closed" "$T/big.info" || fail "SIGTERM did not close the recording: $(grep '^status' "$T/big.info")"
"$ROLLMAT" vmat --fast --scenario guide --seed 9 --time-scale 0.1 --end-signal KILL \
    --counts "$T/k.json" -- "$ROLLMAT" record -o "$T/k.h5" -q --ring 16384 2>"$T/k.err"
rc=$?
[ $rc -eq 137 ] || fail "record killed by SIGKILL: exit $rc, expected 137"
"$ROLLMAT" info "$T/k.h5" >"$T/k.info" 2>&1 || fail "killed recording does not open: $(head -2 "$T/k.info")"
k_frames=$(sed -n 's/^frames: *\([0-9]*\)$/\1/p' "$T/k.info")
k_sent=$(json_get "$T/k.json" frames_sent)
[ "${k_frames:-0}" -gt 0 ] && [ "$k_frames" -le "$k_sent" ] || fail "killed recording holds ${k_frames:-?} frames of $k_sent"
if [ -n "$PY" ]; then
    "$ROLLMAT" simulate --scenario guide --seed 9 --time-scale 0.1 -o "$T/ksim.h5" -q
    # h5py refuses a file still marked open for writing: read a cleared copy
    cp "$T/k.h5" "$T/kc.h5" && { h5clear -s "$T/kc.h5" 2>/dev/null || true; }
    $PY - "$T/kc.h5" "$T/ksim.h5" <<'EOF' || fail "frames of the killed recording differ from the model's"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
n = a["frames/seq"].shape[0]
for k in ("raw", "seq", "t_device_us"):
    if not np.array_equal(a["frames/" + k][...], b["frames/" + k][:n]):
        sys.exit("frames/%s of the first %d frames differ" % (k, n))
EOF
fi
ok "SIGTERM closes cleanly; after SIGKILL the file opens with $k_frames flushed frames"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all usb_vmat checks passed"
