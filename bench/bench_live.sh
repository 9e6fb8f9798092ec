#!/usr/bin/env bash
# bench_live.sh - rollmatd's live page (docs/daemon.md, "The live page") at
# the mat's real pace (100 Hz): Server-Sent Events viewers read /events
# while a recording runs. Issue 10, "Measured". Reports, per case:
#   - latency of each metrics event: the viewer's receive time (host clock,
#     time.time_ns() right after the recv() that completed the event) minus
#     the event's arrival_unix_us (the frame reaching the daemon's sink, host
#     clock): median, p99, max in ms (target < 50 ms). On the emulated mat
#     also from the frame's USB arrival (arrival_unix_us + delay_ms - age_ms,
#     the frame's host time from the clock fit): adds the recorder ring;
#   - metrics events received per second per viewer (min, mean), and events
#     each viewer lost (gaps in the event ids; the daemon's
#     viewer_events_dropped over the window);
#   - rollmatd CPU as a share of one core (utime+stime from /proc/PID/stat
#     over the window, all threads), per thread, peak and current RSS
#     (VmHWM, VmRSS);
#   - the recording: frames, frames expected from its duration
#     (duration * rate + 1), frames lost (the daemon's "lost", `rollmat
#     info`'s gaps and source end), and frames received during the window
#     against window * rate;
#   - the load averages (/proc/loadavg, as `uptime` prints them) before the
#     case's recording starts and at the end of its window.
# Cases (each one its own recording, viewers connect after the start and get
# WARMUP_S seconds before the window opens):
#   emulated mat (`rollmat vmat --realtime --rate 100 -- rollmatd --http`):
#     idle0  no viewer, BASE_S s (what the page costs is the difference)
#     one    1 viewer, DURATION_S s
#     many   CLIENTS viewers at once, DURATION_S s
#   replay source (`rollmatd --replay s.bin --rate 100 --http`, no emulator):
#     the same three cases.
# Usage: bench/bench_live.sh [DURATION_S] [CLIENTS]   (defaults 60, 20;
#   CLIENTS 1..32, the daemon's viewer limit). Quick run: bench_live.sh 10 20
# Environment: BASE_S (default 20, or DURATION_S if shorter; 0 skips the
#   no-viewer cases), WARMUP_S (2), RATE (100), PUBLISH_HZ (empty: the
#   daemon's default, 15 events/s), SOURCES ("emu replay"; "replay" runs
#   without umockdev), ROLLMATD_ARGS (extra daemon options), RESULTS_JSON
#   (a file for every number as JSON), $ROLLMAT and $ROLLMATD, else
#   build/release/cli/ (build it with
#   cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DRM_TESTS=OFF
#   cmake --build build/release -j2 --target rollmat rollmatd).
# Needs umockdev (rollmat vmat) for the emulated-mat cases; python3 stdlib.
# About 4 * DURATION_S + 2 * BASE_S + 60 s (about 5.5 min by default).
# Every process it starts is stopped by its PID on exit, Ctrl-C included.
# Not a test: numbers go to stdout. The viewers run in this machine's
# python3 on the same cores as the daemon: on a busy machine the latency
# includes waiting for a core, for the daemon and for the reader.
set -euo pipefail
usage() { echo "usage: bench/bench_live.sh [DURATION_S] [CLIENTS]  (see the header)" >&2; exit 2; }
DURATION=${1:-60}
CLIENTS=${2:-20}
[ $# -le 2 ] || usage
if ! [[ $DURATION =~ ^[0-9]+$ ]] || [ "$DURATION" -lt 1 ]; then
  echo "bench_live: DURATION_S '$DURATION' is not a whole number of seconds >= 1" >&2; usage
fi
if ! [[ $CLIENTS =~ ^[0-9]+$ ]] || [ "$CLIENTS" -lt 1 ] || [ "$CLIENTS" -gt 32 ]; then
  echo "bench_live: CLIENTS '$CLIENTS' is not 1..32 (the daemon serves 32 viewers)" >&2; usage
fi
BASE_S=${BASE_S:-$((DURATION < 20 ? DURATION : 20))}
WARMUP_S=${WARMUP_S:-2}
RATE=${RATE:-100}
SOURCES=${SOURCES:-emu replay}
for v in BASE_S WARMUP_S RATE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench_live: $v '${!v}' is not a whole number" >&2; exit 2; }
done
for s in $SOURCES; do
  case $s in emu | replay) ;; *) echo "bench_live: SOURCES: '$s' is not emu or replay" >&2; exit 2 ;; esac
done
HERE=$(cd "$(dirname "$0")/.." && pwd)
ROLLMAT=${ROLLMAT:-$HERE/build/release/cli/rollmat}
ROLLMATD=${ROLLMATD:-$HERE/build/release/cli/rollmatd}
for b in "$ROLLMAT" "$ROLLMATD"; do
  [ -x "$b" ] || { echo "bench_live: $b is not built (see the header of this script)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "bench_live: python3 is not installed" >&2; exit 1; }
if [[ " $SOURCES " == *" emu "* ]] && ! command -v umockdev-run >/dev/null; then
  echo "bench_live: umockdev-run is not installed (apt-get install umockdev), needed by rollmat vmat" \
    "for the emulated mat; SOURCES=replay runs the replay cases only" >&2
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rm-bench-live-XXXXXX")
RUNPID=""  # what was started in the background: rollmatd, or rollmat vmat
DPID=""    # rollmatd itself (RUNPID, or a descendant of rollmat vmat)
DRAIN=""   # cat reading the daemon's stdout
DRIVER=""  # the python viewers

# A process is gone once it has no /proc entry or is a zombie (a child of
# this shell stays a zombie until waited for).
alive() {
  local st
  [ -n "${1:-}" ] || return 1
  st=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# Stops the run started as $RUNPID: SIGTERM to the daemon (it closes its
# recording; rollmat vmat returns when its command does), SIGKILL to both
# after 15 s. Prints the exit status when asked to check it.
stop_run() {
  local check=${1:-} i rc=0
  [ -n "$RUNPID" ] || return 0
  if alive "$DPID"; then kill -TERM "$DPID" 2>/dev/null || true
  else kill -TERM "$RUNPID" 2>/dev/null || true  # vmat passes TERM on
  fi
  for ((i = 0; i < 150; i++)); do
    alive "$RUNPID" || alive "$DPID" || break
    sleep 0.1
  done
  if alive "$RUNPID" || alive "$DPID"; then
    echo "bench_live: rollmatd (pid ${DPID:-?}) did not exit 15 s after SIGTERM: SIGKILL" >&2
    alive "$DPID" && kill -KILL "$DPID" 2>/dev/null
    alive "$RUNPID" && kill -KILL "$RUNPID" 2>/dev/null
  fi
  wait "$RUNPID" 2>/dev/null || rc=$?
  [ -n "$check" ] && [ "$rc" != 0 ] && echo "bench_live: $check: exit status $rc after SIGTERM" >&2
  RUNPID=""
  DPID=""
  return 0
}

cleanup() {
  trap - EXIT INT TERM HUP
  if alive "$DRIVER"; then kill -TERM "$DRIVER" 2>/dev/null || true; fi
  [ -n "$DRIVER" ] && { wait "$DRIVER" 2>/dev/null || true; }
  stop_run
  if alive "$DRAIN"; then kill -TERM "$DRAIN" 2>/dev/null || true; fi
  [ -n "$DRAIN" ] && { wait "$DRAIN" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench_live: interrupted, stopping what it started" >&2; exit 130' INT TERM HUP

DARGS=(--http=127.0.0.1:0)
[ -n "${PUBLISH_HZ:-}" ] && DARGS+=(--publish-hz "$PUBLISH_HZ")
# shellcheck disable=SC2206
DARGS+=(${ROLLMATD_ARGS:-})

echo "bench_live: $(date -u +%FT%TZ), $(nproc) cores, uptime:$(uptime)"
echo "  rollmatd: $ROLLMATD; mat rate $RATE Hz; publish ${PUBLISH_HZ:-default} Hz; window ${DURATION}s" \
  "(no-viewer window ${BASE_S}s, warm-up ${WARMUP_S}s); $CLIENTS viewers in 'many'; sources: $SOURCES"

# The viewers, the control through the page's POST API and the /proc
# sampling, for one running daemon. Args: PORT DAEMON_PID OTHER_PID|0 CASES
# OUT.json RATE, CASES "name:viewers:seconds,...". Env: WARMUP_S.
cat >"$WORK/drive.py" <<'EOF'
import http.client, json, os, re, selectors, socket, statistics, sys, time

port, dpid, opid, cases, out, rate = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                      sys.argv[4], sys.argv[5], float(sys.argv[6]))
WARMUP = float(os.environ.get("WARMUP_S", "2"))
HZ = os.sysconf("SC_CLK_TCK")
RE_ARR = re.compile(rb'"arrival_unix_us":(\d+)')
RE_DELAY = re.compile(rb'"delay_ms":([-0-9.eE]+)')
RE_AGE = re.compile(rb'"age_ms":([-0-9.eE]+)')
RE_TIME = re.compile(rb'"time":([-0-9.eE]+)')

def api(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdr = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, json.dumps(body) if body is not None else None, hdr)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data)

def ticks(path):
    with open(f"/proc/{path}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])

def threads(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            out[int(tid)] = (name, ticks(f"{pid}/task/{tid}"))
        except OSError:
            pass
    return out

def machine():
    """busy and total jiffies of all cores (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)

def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])

def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])

class Viewer:
    """One GET /events over a raw socket: HTTP/1.1, chunked or not; every
    complete event is stamped with the host clock at the recv() that
    completed it."""
    def __init__(self, sel):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n" % port)
        self.s.setblocking(False)
        sel.register(self.s, selectors.EVENT_READ, self)
        self.raw = b""; self.text = b""; self.head = None; self.chunked = False
        self.left = 0; self.crlf = False; self.closed = False
        self.on = False; self.lat = []; self.lat_usb = []; self.delay = []; self.before_sink = []
        self.n_metrics = 0; self.n_other = 0
        self.last_id = None; self.gaps = 0; self.status = None

    def feed(self):
        try:
            b = self.s.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            b = b""
        t_us = time.time_ns() // 1000
        if not b:
            self.closed = True
            return
        self.raw += b
        if self.head is None:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return
            self.head = self.raw[:i].decode("latin-1")
            self.raw = self.raw[i + 4:]
            self.status = int(self.head.split()[1])
            self.chunked = "transfer-encoding: chunked" in self.head.lower()
        if self.chunked:
            while self.raw:
                if self.crlf:
                    if len(self.raw) < 2:
                        break
                    self.raw = self.raw[2:]; self.crlf = False
                    continue
                if self.left == 0:
                    i = self.raw.find(b"\r\n")
                    if i < 0:
                        break
                    self.left = int(self.raw[:i].split(b";")[0], 16)
                    self.raw = self.raw[i + 2:]
                    if self.left == 0:
                        self.closed = True
                        break
                    continue
                k = min(self.left, len(self.raw))
                self.text += self.raw[:k]; self.raw = self.raw[k:]; self.left -= k
                if self.left == 0:
                    self.crlf = True
        else:
            self.text += self.raw; self.raw = b""
        while True:
            i = self.text.find(b"\n\n")
            if i < 0:
                break
            ev, self.text = self.text[:i], self.text[i + 2:]
            self.event(ev, t_us)

    def event(self, ev, t_us):
        kind, eid, data = None, None, b""
        for line in ev.split(b"\n"):
            if line.startswith(b"id: "): eid = int(line[4:])
            elif line.startswith(b"event: "): kind = line[7:]
            elif line.startswith(b"data: "): data = line[6:]
        if eid is not None:
            if self.on and self.last_id is not None and eid > self.last_id + 1:
                self.gaps += eid - self.last_id - 1
            self.last_id = eid
        if not self.on:
            return
        if kind == b"metrics":
            self.n_metrics += 1
            m = RE_ARR.search(data)
            if m:
                lat = (t_us - int(m.group(1))) / 1000.0
                self.lat.append(lat)
                d, a = RE_DELAY.search(data), RE_AGE.search(data)
                if d and a:  # age_ms is null for a replay
                    self.lat_usb.append(lat + float(a.group(1)) - float(d.group(1)))
                    t = RE_TIME.search(data)
                    if t:  # before the sink (ring, writer), by frame time
                        self.before_sink.append((float(t.group(1)), float(a.group(1)) - float(d.group(1))))
            m = RE_DELAY.search(data)
            if m:
                self.delay.append(float(m.group(1)))
        else:
            self.n_other += 1

def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None

def pump(sel, until):
    while True:
        now = time.monotonic()
        if now >= until:
            return
        for key, _ in sel.select(min(0.2, until - now)):
            key.data.feed()

def stats(prefix, v):
    return {prefix + "_n": len(v),
            prefix + "_median_ms": statistics.median(v) if v else None,
            prefix + "_p99_ms": pct(v, 0.99), prefix + "_max_ms": max(v) if v else None,
            prefix + "_min_ms": min(v) if v else None}

results = []
for spec in cases.split(","):
    name, nv, secs = spec.split(":"); nv = int(nv); secs = float(secs)
    load_before = loadavg()
    print(f"  {name}: {nv} viewer(s) for {secs:g} s (+{WARMUP:g} s warm-up), load average {load_before}",
          file=sys.stderr, flush=True)
    st, r = api("POST", "/api/start", {"label": "calves", "name": "live-" + name})
    if st != 200:
        sys.exit(f"bench_live: POST /api/start: {st} {r}")
    sel = selectors.DefaultSelector()
    vs = [Viewer(sel) for _ in range(nv)]
    pump(sel, time.monotonic() + WARMUP)
    bad = [v.status for v in vs if v.status != 200]
    if bad:
        print(f"  {name}: {len(bad)} of {nv} viewers were answered {bad[:3]} (None: no answer)",
              file=sys.stderr)
    _, s0 = api("GET", "/api/status")
    for v in vs:
        v.on = True
    t0, c0, th0 = time.monotonic(), ticks(dpid), threads(dpid)
    o0 = ticks(opid) if opid else 0
    m0 = machine()
    pump(sel, t0 + secs)
    t1, c1, th1 = time.monotonic(), ticks(dpid), threads(dpid)
    o1 = ticks(opid) if opid else 0
    m1 = machine()
    load_after = loadavg()
    for v in vs:
        v.on = False
    _, s1 = api("GET", "/api/status")
    hwm, rss = vm(dpid, "VmHWM"), vm(dpid, "VmRSS")
    for v in vs:
        sel.unregister(v.s); v.s.close()
    time.sleep(0.2)
    st, stop = api("POST", "/api/stop", {})
    if st != 200:
        sys.exit(f"bench_live: POST /api/stop: {st} {stop}")
    dt = t1 - t0
    lat = [x for v in vs for x in v.lat]
    lat_usb = [x for v in vs for x in v.lat_usb]
    delay = [x for v in vs for x in v.delay]
    per_thread = sorted(((th1[t][1] - th0.get(t, ("", 0))[1]) / HZ / dt * 100, th1[t][0], t)
                        for t in th1)
    rates = [v.n_metrics / dt for v in vs]
    res = {
        "case": name, "viewers": nv, "window_s": dt,
        "cpu_pct": (c1 - c0) / HZ / dt * 100,
        "machine_busy_pct": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * 100,
        "load_before": load_before, "load_after": load_after,
        "other_cpu_pct": (o1 - o0) / HZ / dt * 100 if opid else None,
        "threads": [(("main" if t == dpid else f"{n}/{t}"), round(p, 2)) for p, n, t in reversed(per_thread)],
        "vmhwm_kib": hwm, "vmrss_kib": rss,
        "events_per_viewer": [v.n_metrics for v in vs],
        "rate_per_viewer": rates,
        "rate_min": min(rates) if rates else None,
        "rate_mean": statistics.mean(rates) if rates else None,
        "other_events": sum(v.n_other for v in vs),
        "gaps_per_viewer": [v.gaps for v in vs],
        "viewers_not_200": len(bad),
        "closed_viewers": sum(v.closed for v in vs),
        "delay_median_ms": statistics.median(delay) if delay else None,
        "delay_p99_ms": pct(delay, 0.99),
        "dropped_daemon": (s1.get("viewer_events_dropped", 0) - s0.get("viewer_events_dropped", 0))
                          if "viewer_events_dropped" in s1 else None,
        "viewers_status": s1.get("viewers"),
        "window_frames": (s1.get("frames") or 0) - (s0.get("frames") or 0),
        "window_frames_expected": dt * rate,
        "status_lost": s1.get("lost"), "status_frames": s1.get("frames"),
        "stop": stop,
        "before_sink_ms_by_time": vs[0].before_sink if vs else [],
    }
    res.update(stats("lat", lat))
    res.update(stats("lat_usb", lat_usb))
    results.append(res)
    print(f"  {name}: done, {dt:.1f} s, CPU {res['cpu_pct']:.2f} %"
          + (f", median latency {res['lat_median_ms']:.2f} ms" if lat else "")
          + f", load average {load_after}", file=sys.stderr, flush=True)
with open(out, "w") as f:
    json.dump(results, f)
EOF

# Runs the driver against the daemon started in the background as $RUNPID,
# which prints to the fifo $WORK/out, then stops the daemon.
# Args: TAG CASES
drive() {
  local tag=$1 cases=$2 port="" line found=""
  exec 3<"$WORK/out"
  while read -r -t 60 line <&3; do
    case "$line" in
    "live page: http://127.0.0.1:"*) port=${line#live page: http://127.0.0.1:}; port=${port%%/*} ;;
    ready) found=1; break ;;
    esac
  done
  if [ -z "$port" ] || [ -z "$found" ]; then
    exec 3<&-
    echo "bench_live: $tag: rollmatd did not print its live page address and 'ready' within 60 s:" \
      "$(tail -3 "$WORK/err-$tag" | tr '\n' ' ')" >&2
    exit 1
  fi
  cat <&3 >/dev/null &
  DRAIN=$!
  exec 3<&-
  # The daemon: $RUNPID itself, or under rollmat vmat its descendant
  # named rollmatd (then $RUNPID, the emulator, is measured beside it).
  local opid=0
  if [ "$(cat "/proc/$RUNPID/comm" 2>/dev/null)" = rollmatd ]; then
    DPID=$RUNPID
  else
    DPID=$(python3 - "$RUNPID" <<'PY'
import os, sys
def kids(p):
    out = []
    for t in os.listdir(f"/proc/{p}/task"):
        try:
            for c in open(f"/proc/{p}/task/{t}/children").read().split():
                out += [int(c)] + kids(int(c))
        except OSError:
            pass
    return out
for p in kids(int(sys.argv[1])):
    try:
        if open(f"/proc/{p}/comm").read().strip() == "rollmatd":
            print(p)
            break
    except OSError:
        pass
PY
)
    [ -n "$DPID" ] || { echo "bench_live: $tag: no rollmatd process under rollmat vmat (pid $RUNPID)" >&2; exit 1; }
    opid=$RUNPID
  fi
  echo "$tag: rollmatd pid $DPID on port $port$([ "$opid" != 0 ] && echo ", emulator (rollmat vmat) pid $opid")"
  WARMUP_S=$WARMUP_S python3 "$WORK/drive.py" "$port" "$DPID" "$opid" "$cases" "$WORK/$tag.json" "$RATE" &
  DRIVER=$!
  wait "$DRIVER" || { echo "bench_live: $tag: the viewers' driver failed (above)" >&2; DRIVER=""; exit 1; }
  DRIVER=""
  stop_run "$tag"
  wait "$DRAIN" 2>/dev/null || true
  DRAIN=""
}

cases_base=""
[ "$BASE_S" != 0 ] && cases_base="idle0:0:$BASE_S,"
CASES="${cases_base}one:1:$DURATION,many:$CLIENTS:$DURATION"
# Seconds a source must keep sending frames: every case with its warm-up
# and the start and stop around it (generous).
NEED_ALL=$((BASE_S + 2 * DURATION + 3 * (WARMUP_S + 5) + 30))
NEED_ONE=$((DURATION + WARMUP_S + 20))
# The guide routine lasts about 427 s at time scale 1 (and at any rate).
GUIDE_S=420

for src in $SOURCES; do
  mkdir -p "$WORK/rec-$src"
  rm -f "$WORK/out"; mkfifo "$WORK/out"
  if [ "$src" = emu ]; then
    # 1. The emulated mat, one mat session for all cases: stretched when
    #    the cases together outlast the routine.
    ts=$(python3 -c "print(max(1.0, $NEED_ALL / $GUIDE_S))")
    "$ROLLMAT" vmat --scenario guide --realtime --rate "$RATE" --time-scale "$ts" --quiet -- \
      "$ROLLMATD" --socket "$WORK/emu.sock" --recordings "$WORK/rec-emu" --log "$WORK/d-emu.log" "${DARGS[@]}" \
      >"$WORK/out" 2>"$WORK/err-emu" &
    RUNPID=$!
  else
    # 2. The replay source: the same routine's byte stream, paced at RATE by
    #    the daemon; every recording replays it from its start, so it needs
    #    to outlast one case.
    ts=$(python3 -c "print(max(0.05, $NEED_ONE / $GUIDE_S))")
    "$ROLLMAT" simulate --scenario guide --rate "$RATE" --time-scale "$ts" --stream "$WORK/s.bin" -q
    "$ROLLMATD" --replay "$WORK/s.bin" --rate "$RATE" --socket "$WORK/replay.sock" \
      --recordings "$WORK/rec-replay" --log "$WORK/d-replay.log" "${DARGS[@]}" \
      >"$WORK/out" 2>"$WORK/err-replay" &
    RUNPID=$!
  fi
  drive "$src" "$CASES"
  rm -f "$WORK/s.bin"
  for f in "$WORK/rec-$src"/*.h5; do
    [ -e "$f" ] || continue
    "$ROLLMAT" info --json "$f" >"$f.json" 2>"$f.err" || echo "bench_live: rollmat info $f failed: $(cat "$f.err")" >&2
  done
done

# 3. The report.
python3 - "$WORK" "$RATE" "$SOURCES" "${RESULTS_JSON:-}" <<'EOF'
import json, os, re, sys
work, rate, sources, results_json = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
def info(tag, name):
    p = f"{work}/rec-{tag}/live-{name}.h5.json"
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
def closed(tag, name):
    """frames, lost from the daemon's log line for the recording's close."""
    p = f"{work}/d-{tag}.log"
    m = re.search(rf"recording live-{name}\.h5 closed: (\d+) frames, (\d+) lost", open(p).read()) if os.path.exists(p) else None
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)
def f1(x, fmt="{:.1f}"):
    return "-" if x is None else fmt.format(x)
rows, problems = [], []
for tag in sources:
    for r in json.load(open(f"{work}/{tag}.json")):
        i = info(tag, r["case"])
        r["source"] = tag
        r["info"] = i
        r["log_frames"], r["log_lost"] = closed(tag, r["case"])
        r["expected"] = int(i["duration_s"] * rate + 0.5) + 1 if i else None
        where = "emulated mat" if tag == "emu" else "replay"
        label = f"{where} {r['case']}"
        print(f"\n== {where}, {r['case']}: {r['viewers']} viewer(s), window {r['window_s']:.1f} s")
        print(f"load average before {r['load_before']}, after {r['load_after']};"
              f" machine {r['machine_busy_pct']:.0f} % busy (all {os.cpu_count()} cores) during the window")
        print(f"rollmatd CPU: {r['cpu_pct']:.2f} % of one core" +
              (f" (the emulator process, rollmat vmat, beside it: {r['other_cpu_pct']:.2f} %)" if r['other_cpu_pct'] is not None else ""))
        print("  per thread: " + ", ".join(f"{n} {p:.2f} %" for n, p in r["threads"]))
        print(f"memory: VmHWM (peak since the daemon started) {r['vmhwm_kib'] / 1024:.1f} MiB, VmRSS {r['vmrss_kib'] / 1024:.1f} MiB")
        if r["viewers"]:
            print(f"metrics events per viewer: {min(r['events_per_viewer'])}..{max(r['events_per_viewer'])} "
                  f"({r['rate_min']:.2f} /s min, {r['rate_mean']:.2f} /s mean); other events (status...): {r['other_events']}; "
                  f"viewers not answered 200: {r['viewers_not_200']}; viewers whose stream ended: {r['closed_viewers']}")
            if r["viewers"] > 1:
                print("  per viewer: " + " ".join(f"{n}" for n in r["events_per_viewer"]))
            if r["lat_n"]:
                print(f"latency (receipt - arrival_unix_us) over {r['lat_n']} events: median {r['lat_median_ms']:.2f} ms, "
                      f"p99 {r['lat_p99_ms']:.2f} ms, max {r['lat_max_ms']:.2f} ms, min {r['lat_min_ms']:.2f} ms (target < 50)")
            else:
                print("latency: NO metrics events received")
                problems.append(f"{label}: no metrics event received")
            if r["lat_usb_n"]:
                print(f"  from the frame's USB arrival (+ age_ms - delay_ms): median {r['lat_usb_median_ms']:.2f} ms, "
                      f"p99 {r['lat_usb_p99_ms']:.2f} ms, max {r['lat_usb_max_ms']:.2f} ms")
            if r["delay_median_ms"] is not None:
                print(f"  of which delay_ms (the daemon's sink -> event published): median {r['delay_median_ms']:.2f}, p99 {r['delay_p99_ms']:.2f}")
            gp = r["gaps_per_viewer"]
            print(f"events lost per viewer (id gaps): {gp if len(gp) > 1 else gp[0]}; "
                  f"daemon viewer_events_dropped over the window: {r['dropped_daemon']}")
            if r["viewers_not_200"] or r["closed_viewers"]:
                problems.append(f"{label}: {r['viewers_not_200']} viewers refused, {r['closed_viewers']} streams ended")
            if sum(gp) or r["dropped_daemon"]:
                problems.append(f"{label}: events dropped ({sum(gp)} id gaps, daemon {r['dropped_daemon']})")
        line = (f"recording live-{r['case']}.h5: daemon log {r['log_frames']} frames, {r['log_lost']} lost; "
                f"in the window {r['window_frames']} frames for {r['window_frames_expected']:.0f} expected")
        if i:
            se = i.get("source_end", {})
            line += (f"; rollmat info: {i['frames']} frames over {i['duration_s']:.3f} s = {r['expected']} expected at {rate:g} Hz,"
                     f" {i['gap_events']} gaps ({i['frames_missing']} frames missing), source end {se.get('frames_missing')} missing"
                     f" {se.get('frames_corrupt')} corrupt, {se.get('status')}")
            lost = (r["log_lost"] or 0) + i["frames_missing"]
            if lost or i["frames"] < r["expected"] - 1:
                problems.append(f"{label}: the recording lost frames ({i['frames']} of {r['expected']}, {lost} lost)")
        else:
            problems.append(f"{label}: no recording to check (rollmat info)")
        if abs(r["window_frames"] - r["window_frames_expected"]) > 0.02 * r["window_frames_expected"] + 2:
            problems.append(f"{label}: {r['window_frames']} frames in the window for {r['window_frames_expected']:.0f} expected")
        print(line)
        rows.append((label, r))

print("\nSummary (latency: viewer receipt - arrival_unix_us; drops: sum of id gaps over the viewers / the daemon's"
      " count; CPU: rollmatd, all threads, % of one core, and its main thread, where the HTTP server runs;"
      " frames: recorded / expected from duration x rate / lost)")
print("| case | viewers | latency median / p99 / max ms | events/s per viewer min / mean | drops | rollmatd CPU % (main thread) | VmHWM MB | frames rec / exp / lost | load avg before -> after |")
print("|---|---|---|---|---|---|---|---|---|")
for label, r in rows:
    lat = f"{r['lat_median_ms']:.1f} / {r['lat_p99_ms']:.1f} / {r['lat_max_ms']:.1f}" if r["lat_n"] else "-"
    rate_s = f"{r['rate_min']:.2f} / {r['rate_mean']:.2f}" if r["viewers"] else "-"
    drop = f"{sum(r['gaps_per_viewer'])} / {r['dropped_daemon']}" if r["viewers"] else "-"
    i = r["info"]
    frames = f"{i['frames']} / {r['expected']} / {(r['log_lost'] or 0) + i['frames_missing']}" if i else "-"
    main = next((p for n, p in r["threads"] if n == "main"), None)
    print(f"| {label} | {r['viewers']} | {lat} | {rate_s} | {drop} | {r['cpu_pct']:.2f} ({f1(main, '{:.2f}')}) | {r['vmhwm_kib'] / 1024:.1f} |"
          f" {frames} | {r['load_before'].split()[0]} -> {r['load_after'].split()[0]} |")
usb = [(label, r) for label, r in rows if r["lat_usb_n"]]
if usb:
    print("From the frame's USB arrival (emulated mat): " + "; ".join(
        f"{label} median {r['lat_usb_median_ms']:.1f} / p99 {r['lat_usb_p99_ms']:.1f} / max {r['lat_usb_max_ms']:.1f} ms"
        for label, r in usb))
if results_json:
    with open(results_json, "w") as f:
        json.dump([r for _, r in rows], f, indent=1)
if problems:
    print("\nPROBLEMS:\n  " + "\n  ".join(problems))
else:
    print("\nEvery viewer got its stream without a drop and no recording lost a frame.")
EOF
echo "end: $(date -u +%FT%TZ), uptime:$(uptime)"
