#!/usr/bin/env bash
# bench_daemon.sh - rollmatd at the mat's real pace: the virtual mat on
# emulated USB (`rollmat vmat --realtime`, 100 Hz) feeding the daemon for
# DURATION seconds while one client records and another subscribes to the
# live metrics. Reports:
#   - CPU use of the daemon as a share of one core (utime+stime from
#     /proc/PID/stat over the recording; target < 2 %),
#   - peak memory (VmHWM),
#   - delay from a frame's arrival to its live metric line: delay_ms (from
#     the daemon's sink to the line leaving the socket) and age_ms (from the
#     frame's host timestamp at USB arrival; includes ring and writer);
#     target < 20 ms.
# Usage: bench/bench_daemon.sh [DURATION_S] [RATE_HZ]
# Extra daemon options: $ROLLMATD_ARGS (e.g. --no-analysis).
# Binaries: $ROLLMAT and $ROLLMATD, else build/release/cli/ (build it with
#   cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DRM_TESTS=OFF
#   cmake --build build/release -j2 --target rollmat rollmatd).
# Not a test: numbers go to stdout (and bench/results/daemon.txt if writable).
set -euo pipefail
DURATION=${1:-60}
RATE=${2:-100}
HERE=$(cd "$(dirname "$0")/.." && pwd)
ROLLMAT=${ROLLMAT:-$HERE/build/release/cli/rollmat}
ROLLMATD=${ROLLMATD:-$HERE/build/release/cli/rollmatd}
for b in "$ROLLMAT" "$ROLLMATD"; do
  [ -x "$b" ] || { echo "bench_daemon: $b is not built (see the header of this script)" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rm-bench-daemon-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/rec"
SOCK=$WORK/ctl.sock

# The scenario must outlast the measurement: the guide routine at 1x is
# several minutes long.
"$ROLLMAT" vmat --scenario guide --realtime --rate "$RATE" --quiet -- \
  "$ROLLMATD" --socket "$SOCK" --recordings "$WORK/rec" --log "$WORK/d.log" ${ROLLMATD_ARGS:-} \
  >"$WORK/vmat.out" 2>"$WORK/vmat.err" &
VMAT=$!

python3 - "$SOCK" "$VMAT" "$DURATION" "$ROLLMATD" <<'EOF'
import json, os, socket, statistics, sys, time
sock, vmat_pid, duration, daemon_path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
hz = os.sysconf("SC_CLK_TCK")

def connect():
    # Bounded wait for the socket: the daemon creates it once ready.
    for _ in range(600):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            return s
        except OSError:
            s.close()
            if os.waitpid(vmat_pid, os.WNOHANG)[0]:
                sys.exit("bench_daemon: rollmat vmat exited early")
            time.sleep(0.1)
    sys.exit("bench_daemon: no control socket after 60 s")

def descendants(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for c in f.read().split():
                    out.append(int(c)); out += descendants(int(c))
    except OSError:
        pass
    return out

def find_daemon():
    base = os.path.basename(daemon_path)
    for p in descendants(vmat_pid):
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == base[:15]:
                    return p
        except OSError:
            pass
    sys.exit("bench_daemon: cannot find the rollmatd process")

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime

def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])

ctl = connect(); sub = connect()
cf, sf = ctl.makefile("rw"), sub.makefile("rw")
def ask(f, obj):
    f.write(json.dumps(obj) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "type" not in r:
            return r
pid = find_daemon()
assert ask(sf, {"cmd": "subscribe"})["ok"]
r = ask(cf, {"cmd": "start", "subject": "bench", "label": "calves", "name": "bench"})
assert r["ok"], r
# Skip the first second (the mat's open sequence, first allocations).
t_end = time.monotonic() + 1.0
while time.monotonic() < t_end:
    sf.readline()
def thread_ticks():
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(tid)] = cpu_ticks(f"{pid}/task/{tid}")
        except OSError:
            pass
    return out
t0, c0, th0 = time.monotonic(), cpu_ticks(pid), thread_ticks()
delays, ages, lines, rollers = [], [], 0, 0
while time.monotonic() - t0 < duration:
    m = json.loads(sf.readline())
    if m.get("type") != "metrics":
        continue
    lines += 1
    if m.get("delay_ms") is not None: delays.append(m["delay_ms"])
    if m.get("age_ms") is not None: ages.append(m["age_ms"])
    if m.get("roller_x_cm") is not None: rollers += 1
t1, c1, th1 = time.monotonic(), cpu_ticks(pid), thread_ticks()
st = ask(cf, {"cmd": "status"})
stop = ask(cf, {"cmd": "stop"})
hwm = status_kb(pid, "VmHWM")
os.kill(pid, 15)

def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")
cpu = (c1 - c0) / hz / (t1 - t0) * 100
print(f"rollmatd at {st.get('frames', 0) / max(st.get('elapsed_s', 1), 1e-9):.1f} frames/s for {t1 - t0:.1f} s "
      f"({stop.get('frames')} frames recorded, {st.get('lost')} lost)")
print(f"CPU: {cpu:.2f} % of one core (target < 2 %)")
# Per thread: the main thread is the control socket's poll loop; the
# others are the source (USB events, decoder), the recorder's writer
# (HDF5 + live analysis) and umockdev's preload (emulation only).
shares = sorted(((th1[t] - th0.get(t, 0)) / hz / (t1 - t0) * 100, t) for t in th1)
print("  per thread: " + ", ".join(f"{'main' if t == pid else t} {s:.2f} %" for s, t in reversed(shares)))
print(f"peak memory (VmHWM): {hwm / 1024:.1f} MiB")
print(f"live lines: {lines / (t1 - t0):.1f} per s, {rollers} with a roller position")
print(f"delay_ms (sink -> socket): median {statistics.median(delays):.3f}, p99 {pct(delays, .99):.3f}, max {max(delays):.3f}")
if ages:
    print(f"age_ms (USB arrival -> socket): median {statistics.median(ages):.3f}, p99 {pct(ages, .99):.3f}, max {max(ages):.3f} (target < 20)")
EOF
wait "$VMAT" || true
