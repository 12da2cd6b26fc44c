#!/usr/bin/env python3
"""A viewer behind a slow link: kv in the root network namespace, the viewer in a
namespace of its own behind a veth pair shaped with htb on kv's side (netem is
missing on these machines; see ../shared/LINK.md). The viewer (link_viewer.py)
reads `/stream` (MJPEG parts) or `/ws/video` (whole frames, changed areas and
"unchanged" messages, each acknowledged as soon as it is whole, as the UI does
once it has drawn it). For each case it prints the updates per second the viewer
gets, the latency from capture to a whole update received (kv's capture stamp,
`X-Timestamp-Us` or the message header's, against the viewer's CLOCK_MONOTONIC,
the same clock in every namespace), the bytes per second on the wire, kv's CPU
(utime + stime over the measured window) and, for `/ws/video`, the mix of
message kinds and the mean bytes per update.

Two sources:
- the demo target (default): `kv --demo -r SIZE`;
- `--workloads still typing scroll motion [--noise]`: dongle-like 4:2:2 q90 JPEGs
  rendered once by workloads.py (Pillow in a private venv under ~/.cache/kv-bench)
  into target/link-frames/, served at 30 fps by kv as a library (bench/replay.rs,
  built here with `cargo bench --no-run`). During `typing` the viewer also types
  10 keys/s over `/ws`. `--noise` uses the frames with ±2 levels of noise.

    cargo build --release && sudo python3 bench/link.py [--rates 2 5 20] [--seconds 12]
        [--kv target/release/kv] [--baseline OTHER_KV] [--size 1920x1080]
        [--routes /stream /ws/video] [--quality source|auto|N]
        [--workloads still typing scroll motion] [--noise]

`--baseline` runs a second kv binary through the same links in the same run (demo
source only; for example one built from an older commit) and prints the ratios.
`--quality` is passed to `/ws/video` as `?quality=`. Needs root (it creates the
namespace `kvlink` and the veth `kvlh`/`kvlc`, and removes them at the end, also
on errors and on SIGTERM). Speed is reported, never asserted: it exits non-zero
only when the run itself broke.
"""
import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

NS, HOST_IF, NS_IF = "kvlink", "kvlh", "kvlc"
KV_ADDR, NS_ADDR, PORT = "10.199.7.1", "10.199.7.2", 3177
WARMUP = 2.0
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV = os.path.expanduser("~/.cache/kv-bench/venv")


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def link_down():
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "link", "del", HOST_IF, check=False)


def link_up():
    link_down()
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
    sh("ip", "link", "set", NS_IF, "netns", NS)
    sh("ip", "addr", "add", KV_ADDR + "/30", "dev", HOST_IF)
    sh("ip", "link", "set", HOST_IF, "up")
    sh("ip", "netns", "exec", NS, "ip", "addr", "add", NS_ADDR + "/30", "dev", NS_IF)
    sh("ip", "netns", "exec", NS, "ip", "link", "set", NS_IF, "up")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
    sh("tc", "qdisc", "add", "dev", HOST_IF, "root", "handle", "1:", "htb", "default", "10")
    sh("tc", "class", "add", "dev", HOST_IF, "parent", "1:", "classid", "1:10", "htb",
       "rate", "1000mbit", "ceil", "1000mbit")


def shape(mbit):
    sh("tc", "class", "change", "dev", HOST_IF, "parent", "1:", "classid", "1:10", "htb",
       "rate", f"{mbit}mbit", "ceil", f"{mbit}mbit")


def start_server(cmd):
    """Starts kv (or the replay bench) and waits until it listens."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    listening = threading.Event()

    def read_log():  # to the end, so kv never blocks on a full pipe
        for line in proc.stderr:
            if "Listening on http://" in line:
                listening.set()
    threading.Thread(target=read_log, daemon=True).start()
    if not listening.wait(10):
        proc.kill()
        proc.wait()
        sys.exit(f"{cmd[0]} did not start listening on {KV_ADDR}:{PORT}")
    return proc


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(cmd, mbit, seconds, route, quality=None, keys=False):
    """One viewer through the link at `mbit`: (updates/s, p50, p99, kB/s, CPU %, B/update, kinds)."""
    shape(mbit)
    kv = start_server(cmd)
    viewer = [sys.executable, os.path.join(HERE, "link_viewer.py"), KV_ADDR, str(PORT), str(seconds),
              str(WARMUP), route] + (["--quality", quality] if quality else []) + (["--keys"] if keys else [])
    v = None
    try:
        v = subprocess.Popen(["ip", "netns", "exec", NS] + viewer, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        first = v.stdout.readline()
        cpu0, t0 = cpu_seconds(kv.pid), time.monotonic()
        last = v.stdout.readline()
        cpu1, t1 = cpu_seconds(kv.pid), time.monotonic()
        err = v.stderr.read()
        if v.wait() != 0 or first.strip() != "measuring" or not last:
            sys.exit(f"{route} viewer failed at {mbit:g} Mbit/s: {err.strip() or first + last}")
        fps, p50, p99, kbs, per_update, kinds = last.split()
        return (float(fps), float(p50), float(p99), float(kbs), 100 * (cpu1 - cpu0) / (t1 - t0),
                int(per_update), kinds)
    finally:
        for proc in (v, kv):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait()


def frames_dir(size, noise):
    """The workloads' frames at `size`, rendered once (cached by the scripts' hash)."""
    digest = hashlib.sha256()
    for script in ("workloads.py", "frames.py"):
        with open(os.path.join(HERE, script), "rb") as f:
            digest.update(f.read())
    key = digest.hexdigest()[:12]
    out = os.path.join(REPO, "target", "link-frames", f"{key}-{size}", "noise" if noise else "clean")
    if not os.path.exists(os.path.join(out, "done")):
        python = os.path.join(VENV, "bin", "python")
        has_pillow = os.path.exists(python) and subprocess.run(
            [python, "-c", "import PIL"], capture_output=True).returncode == 0
        if not has_pillow:
            print(f"python venv with Pillow (PyPI) in {VENV}", file=sys.stderr)
            sh(sys.executable, "-m", "venv", VENV)
            sh(os.path.join(VENV, "bin", "pip"), "install", "-q", "Pillow")
        print(f"rendering the workloads into {out}", file=sys.stderr)
        subprocess.run([python, os.path.join(HERE, "workloads.py"), out, "--size", size]
                       + (["--noise"] if noise else []), check=True, stdout=sys.stderr)
        open(os.path.join(out, "done"), "w").close()
    return out


def build_replay():
    """bench/replay.rs built with `cargo bench --no-run`: the path of its executable."""
    out = subprocess.run(["cargo", "bench", "--bench", "replay", "--no-run", "--message-format=json"],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "replay" and msg["executable"]:
            return msg["executable"]
    sys.exit("cargo built no replay bench executable")


HEADER = (f"{'link':>9} {'case':>13} {'route':>9} {'updates/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'kB/s':>6} {'kv CPU':>6} {'B/update':>8}  kinds (1 whole, 2 areas, 3 unchanged)")


def row(mbit, case, route, r):
    fps, p50, p99, kbs, cpu, per_update, kinds = r
    return (f"{mbit:>4g} Mb/s {case:>13} {route:>9} {fps:>9.1f} {p50:>7.0f} {p99:>7.0f} {kbs:>6.0f} "
            f"{cpu:>5.1f}% {per_update:>8}  {kinds}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kv", default="target/release/kv")
    ap.add_argument("--baseline", help="a second kv binary, measured through the same links (demo only)")
    ap.add_argument("--rates", type=float, nargs="+", default=[2, 5, 20], help="Mbit/s")
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--size", default="1920x1080", help="the source's resolution")
    ap.add_argument("--routes", nargs="+", default=["/stream", "/ws/video"],
                    choices=["/stream", "/ws/video"], help="what the viewer reads")
    ap.add_argument("--quality", help="/ws/video's ?quality=: source, auto or 1..100")
    ap.add_argument("--workloads", nargs="+", choices=["still", "typing", "scroll", "motion"],
                    help="replay dongle-like frames instead of the demo target")
    ap.add_argument("--noise", action="store_true", help="the workloads' frames with per-pixel noise")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/link.py needs root: it creates a network namespace and shapes a veth")
    if args.quality and not re.fullmatch(r"source|auto|[1-9][0-9]?|100", args.quality):
        sys.exit(f"--quality {args.quality!r}: use source, auto or 1..100")
    if args.workloads:
        if args.baseline:
            sys.exit("--baseline compares kv binaries on the demo source; leave out --workloads")
        replay = build_replay()
        frames = frames_dir(args.size, args.noise)
        cases = [(w + ("+noise" if args.noise else ""),
                  [replay, "--frames", os.path.join(frames, w), "--bind", KV_ADDR, "--port", str(PORT)],
                  w == "typing") for w in args.workloads]
        title = (f"replayed 4:2:2 q90 frames ({'with' if args.noise else 'no'} noise) at {args.size} 30 fps, "
                 f"frames from {frames}")
    else:
        binaries = [("kv", args.kv)] + ([("baseline", args.baseline)] if args.baseline else [])
        for _, b in binaries:
            if not os.access(b, os.X_OK):
                sys.exit(f"{b}: not an executable; build it first (cargo build --release)")
        cases = [(name, [b, "--demo", "-r", args.size, "-b", KV_ADDR, "-p", str(PORT)], False)
                 for name, b in binaries]
        title = f"kv --demo -r {args.size}"
    # SIGTERM (or a hang-up) unwinds like Ctrl-C, so the link is always removed.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit("bench/link.py: stopped by a signal"))
    try:
        link_up()
        print(f"{title}; one viewer, {args.seconds:g} s after {WARMUP:g} s warm-up; "
              f"/ws/video quality {args.quality or 'default'}; load {os.getloadavg()[0]:.2f}")
        for mbit in args.rates:
            print(HEADER)
            for route in args.routes:
                rows = {}
                for name, cmd, keys in cases:
                    rows[name] = measure(cmd, mbit, args.seconds, route,
                                         args.quality if route == "/ws/video" else None, keys)
                    print(row(mbit, name, route, rows[name]), flush=True)
                if "baseline" in rows:
                    (_, k50, k99, *_), (_, b50, b99, *_) = rows["kv"], rows["baseline"]
                    print(f"{'':>9} {'ratio':>13} {'':>9} {'':>9} {k50 / b50:>7.2f} {k99 / b99:>7.2f}")
            print()
    finally:
        link_down()


if __name__ == "__main__":
    main()
