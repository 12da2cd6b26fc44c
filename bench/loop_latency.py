#!/usr/bin/env python3
"""Whether canvas viewers cost the loop its responsiveness: kv (bench/replay.rs)
plays the 1080p `motion` workload (every frame differs, so every frame is
decoded to coefficients, and at a lower quality requantised and encoded again),
0 to 3 `/ws/video` viewers read and acknowledge on loopback, and one `/ws`
client sends a WebSocket ping every 20 ms and times its pong. A pong is answered
in the loop turn that reads the ping, as a keystroke is forwarded, so its round
trip is how long input waits for the loop: the decode and encode slices must
keep it short.

    cargo build --release && python3 bench/loop_latency.py [--seconds 8]

The frames come from bench/workloads.py (bench/link.py renders them on its first
run). Reports, never asserts: exits non-zero only when the run itself broke.
"""
import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import link  # noqa: E402  (build_replay, frames_dir, start_server, cpu_seconds)
from link_viewer import Conn, pong_times, ws_video  # noqa: E402

ADDR, PORT = "127.0.0.1", 3178


def viewer(quality, stop):
    """A canvas that acknowledges each update as soon as it is whole."""
    c = Conn(ADDR, PORT)
    for _ in ws_video(c, ADDR, PORT, quality):
        if stop.is_set():
            return


def pings(seconds):
    """Round trips of pings on /ws, in ms, sent every 20 ms for `seconds`."""
    c = Conn(ADDR, PORT)
    c.upgrade(ADDR, PORT, "/ws")
    return pong_times(c, seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()
    replay = link.build_replay()
    frames = os.path.join(link.frames_dir("1920x1080", False), "motion")
    cmd = [replay, "--frames", frames, "--bind", ADDR, "--port", str(PORT)]
    cases = [("no canvas", []), ("1 canvas, source", ["source"]), ("1 canvas, q40", ["40"]),
             ("3 canvases, q40", ["40", "40", "40"])]
    print(f"1080p motion replayed at 30 fps; /ws ping round trip every 20 ms for {args.seconds:g} s; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'case':>18} {'pings':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'kv CPU':>7}")
    for name, qualities in cases:
        kv = link.start_server(cmd)
        stop = threading.Event()
        try:
            for q in qualities:
                threading.Thread(target=viewer, args=(q, stop), daemon=True).start()
            time.sleep(2)  # warm-up: capture running, pictures flowing
            cpu0, t0 = link.cpu_seconds(kv.pid), time.monotonic()
            rtts = pings(args.seconds)
            cpu = (link.cpu_seconds(kv.pid) - cpu0) / (time.monotonic() - t0)
        finally:
            stop.set()
            kv.terminate()
            kv.wait()
        pct = lambda p: rtts[min(len(rtts) - 1, int(len(rtts) * p))]
        print(f"{name:>18} {len(rtts):>6} {pct(0.5):>7.2f} {pct(0.99):>7.2f} {rtts[-1]:>7.2f} {cpu:>6.0%}")


if __name__ == "__main__":
    main()
