#!/usr/bin/env python3
"""live_sse_client.py PORT PROFILE_FILE [--pass] - a small Server-Sent Events
client for rollmatd's live page (tests/live_sse.sh runs it). Checks the event
format of docs/daemon.md ("The live page"), the cue against the profile's
speed band, the hold timer, a label from the POST API reaching the stream,
and stop. With --pass (tests/live_sse_pass.sh: profile behm2020, no speed
band, on a replay of live_pass) it checks the pass band in hello and the
cue by pass duration instead: "slower" after passes shorter than the band,
"good" inside it, "faster" once a pass outlasts it, each agreeing with the
pass durations carried in the same event.
Prints "ok: ..." lines; exits 1 with "FAIL: ..." on the first failure."""
import http.client
import json
import sys
import time

DEADLINE = time.monotonic() + 150  # live_short is about 75 s in real time

PORT = int(sys.argv[1])
PROFILE = sys.argv[2]
PASS = "--pass" in sys.argv[3:]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def profile_band(key):
    """LOW HIGH of a band in the profile file (what the daemon must send)."""
    for line in open(PROFILE):
        if line.split("=")[0].strip() == key:
            v = line.split("=", 1)[1].split("|")[0].split()
            return [float(v[0]), float(v[1])]
    return None


def post(cmd, body, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    hdr = {"Content-Type": ctype} if ctype else {}
    c.request("POST", "/api/" + cmd, json.dumps(body), hdr)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data)


class Events:
    """Reads `id:`/`event:`/`data:` blocks from one streaming response."""

    def __init__(self):
        self.c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        self.c.request("GET", "/events")
        self.r = self.c.getresponse()
        if self.r.status != 200:
            fail("GET /events: status %d" % self.r.status)
        ctype = self.r.getheader("Content-Type", "")
        if not ctype.startswith("text/event-stream"):
            fail("GET /events: Content-Type %r" % ctype)

    def next(self):
        ev = {}
        while True:
            line = self.r.readline()
            if not line:
                fail("the event stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if "data" in ev:
                    return ev
                continue
            k, _, v = line.partition(": ")
            ev[k] = v


METRIC_KEYS = {
    "type": str, "time": float, "frames": int, "lost": int, "roller_x_cm": float,
    "speed_cm_s": float, "roller_force_n": float, "load_share": float,
    "total_force_n": float, "delay_ms": float, "state": str, "cue": str,
    "pace_cm_s": float, "hold_s": float, "set_s": float, "session_s": float,
    "cue_by": str, "pass_s": float, "last_pass_s": float,
    "label": str, "disconnected": bool, "arrival_unix_us": int, "heat": dict,
}
STATES = {"lifted", "no_roller", "rolling", "holding"}
CUES = {"slower", "good", "faster"}


def check_metric(m):
    for k, t in METRIC_KEYS.items():
        if k not in m:
            fail("metrics event without %r: %s" % (k, sorted(m)))
        v = m[k]
        if v is None and k in ("roller_x_cm", "speed_cm_s", "roller_force_n", "pace_cm_s",
                               "hold_s", "cue", "state", "load_share", "cue_by", "pass_s",
                               "last_pass_s"):
            continue
        if t is float and isinstance(v, int) and not isinstance(v, bool):
            continue
        if not isinstance(v, t):
            fail("metrics %s = %r is not %s" % (k, v, t.__name__))
    if m["state"] is not None and m["state"] not in STATES:
        fail("unknown state %r" % m["state"])
    if m["cue"] is not None and m["cue"] not in CUES:
        fail("unknown cue %r" % m["cue"])
    if (m["cue"] is None) != (m["cue_by"] is None) or m["cue_by"] not in (None, "speed", "pass"):
        fail("cue %r judged by %r" % (m["cue"], m["cue_by"]))
    if m["pass_s"] is not None and m["state"] != "rolling":
        fail("pass_s %r while %s" % (m["pass_s"], m["state"]))
    h = m["heat"]
    if len(h["kpa"]) != h["rows"] * h["cols"] or h["rows"] < 1 or h["rows"] > 32:
        fail("heat: %dx%d cells but %d values" % (h["rows"], h["cols"], len(h["kpa"])))
    if m["hold_s"] is not None and m["state"] != "holding":
        fail("hold_s %r while %s" % (m["hold_s"], m["state"]))
    # arrival_unix_us is the host's Unix clock in microseconds, so that a
    # viewer on the same machine measures its latency (bench/bench_live.sh):
    # an event read now left a frame that arrived at most seconds ago (not
    # a monotonic clock, not another unit, not in the future).
    age_s = time.time() - m["arrival_unix_us"] / 1e6
    if not -1.0 < age_s < 60.0:
        fail("arrival_unix_us %d is %.3f s before this host's clock, not the Unix time of the "
             "frame's arrival" % (m["arrival_unix_us"], age_s))


ev = Events()
hello = ev.next()
if hello.get("event") != "hello":
    fail("first event is %r, not hello" % hello.get("event"))
h = json.loads(hello["data"])
for key, name in (("speed_cm_s", "speed_cm_s"), ("pass_s", "pass_s"), ("hold_s", "hold_s"),
                  ("set_s", "set_s"), ("daily_s", "daily_s")):
    if h["bands"][name] != profile_band(key):
        fail("hello band %s = %r, profile says %r" % (name, h["bands"][name], profile_band(key)))
print("ok: hello carries the profile's bands (%s)" % h["profile"])


def pass_run():
    """behm2020 on live_pass: the cue by pass duration, start to stop."""
    pb = h["bands"]["pass_s"]
    if h["bands"]["speed_cm_s"] is not None or pb is None:
        fail("--pass needs a profile with a pass band and no speed band: %r" % h["bands"])
    st, r = post("start", {"label": "quads", "name": "pass1"})
    if st != 200 or not r.get("ok"):
        fail("POST /api/start: %d %r" % (st, r))
    seen = {}
    n = 0
    while True:
        if time.monotonic() > DEADLINE:
            fail("no slower/good/faster by pass in time: %r" % sorted(seen))
        e = ev.next()
        d = json.loads(e["data"])
        if e["event"] == "status" and d.get("last_frame_s", 0) > 3:
            fail("the replay ended without slower/good/faster by pass: %r" % sorted(seen))
        if e["event"] != "metrics":
            continue
        check_metric(d)
        n += 1
        if d["cue"] is None:
            continue
        if d["cue_by"] != "pass":
            fail("cue %r by %r with a pass band only" % (d["cue"], d["cue_by"]))
        cur, last = d["pass_s"], d["last_pass_s"]
        judged = cur if cur is not None and cur > pb[1] else last
        if judged is None:
            fail("cue %r without a pass: %r" % (d["cue"], d))
        want = "slower" if judged < pb[0] else "faster" if judged > pb[1] else "good"
        if d["cue"] != want:
            fail("cue %r for a pass of %.2f s (band %r)" % (d["cue"], judged, pb))
        if d["cue"] not in seen:
            print("ok: t=%.1f s cue %s by pass: pass %.2f s, last %s s" %
                  (d["time"], d["cue"], cur or 0, last if last is None else round(last, 2)))
        seen[d["cue"]] = judged
        if len(seen) == 3:
            break
    if not (0.8 <= seen["slower"] <= 1.5):
        fail("the short passes (1 s in the scenario) measured %.2f s" % seen["slower"])
    st, r = post("stop", {})
    if st != 200 or r.get("file") != "pass1.h5":
        fail("POST /api/stop: %d %r" % (st, r))
    print("ok: %d metrics events; slower, good and faster by pass duration" % n)
    sys.exit(0)


if PASS:
    pass_run()
speed_hi = h["bands"]["speed_cm_s"][1]
hold_lo = h["bands"]["hold_s"][0]

st, r = post("start", {"label": "calves", "name": "sse1"})
if st != 200 or not r.get("ok") or r.get("file") != "sse1.h5":
    fail("POST /api/start: %d %r" % (st, r))
st, r = post("start", {"label": "calves"}, ctype=None)
if st != 415:
    fail("POST without a JSON Content-Type: status %d, expected 415" % st)
st, r = post("start", {"name": "other"})
if st != 409 or r.get("ok") is not False or "already recording" not in r.get("error", ""):
    fail("a second POST /api/start: %d %r" % (st, r))
print("ok: start through POST /api/start")

last_id = int(hello["id"])
seen_slower = seen_hold = seen_label = False
max_hold = 0.0
n = 0
set_before = None
stopped = None
while True:
    e = ev.next()
    if time.monotonic() > DEADLINE:
        fail("no stop after 150 s (slower seen: %s, max hold %.1f s, label seen: %s)"
             % (seen_slower, max_hold, seen_label))
    if int(e["id"]) <= last_id:
        fail("event ids do not increase: %s after %d" % (e["id"], last_id))
    last_id = int(e["id"])
    d = json.loads(e["data"])
    if e["event"] == "status":
        if d.get("type") != "status" or d.get("state") not in ("recording", "idle"):
            fail("status event: %r" % d)
        continue
    if e["event"] == "stopped":
        stopped = d
        break
    if e["event"] != "metrics":
        fail("unknown event %r" % e["event"])
    check_metric(d)
    n += 1
    if d["time"] > 120:  # live_short lasts about 75 s of frame time
        fail("still no hold/label/stop at %.0f s (max hold %.1f s, label %r)"
             % (d["time"], max_hold, d["label"]))
    if d["cue"] == "slower":
        if not (d["pace_cm_s"] > speed_hi):
            fail("cue slower at pace %r (band top %g)" % (d["pace_cm_s"], speed_hi))
        seen_slower = True
    if d["cue"] == "good" and d["pace_cm_s"] > speed_hi:
        fail("cue good at pace %r" % d["pace_cm_s"])
    if d["hold_s"] is not None:
        max_hold = max(max_hold, d["hold_s"])
    if max_hold >= hold_lo and not seen_hold:
        seen_hold = True
        set_before = d["set_s"]
        st, r = post("label", {"label": "hamstrings"})
        if st != 200 or not r.get("ok"):
            fail("POST /api/label: %d %r" % (st, r))
    elif seen_hold and not seen_label and d["label"] == "hamstrings":
        seen_label = True
        if not d["set_s"] < set_before:
            fail("set timer did not restart with the new group: %r -> %r"
                 % (set_before, d["set_s"]))
        st, r = post("stop", {})
        if st != 200 or r.get("file") != "sse1.h5":
            fail("POST /api/stop: %d %r" % (st, r))

if not seen_slower:
    fail("no 'slower' cue during the too-fast set")
print("ok: %d metrics events in the documented format; 'slower' during the fast set" % n)
print("ok: hold timer reached %.1f s (band starts at %g s)" % (max_hold, hold_lo))
if not seen_label:
    fail("the label from POST /api/label never reached the stream")
print("ok: label from the page reached the stream; set timer restarted")
if stopped.get("file") != "sse1.h5" or not stopped.get("frames", 0) > 0:
    fail("stopped event: %r" % stopped)
print("ok: stopped event (%d frames)" % stopped["frames"])
