#!/usr/bin/env python3
"""A viewer behind a slow link: kv in the root network namespace, the viewer in a
namespace of its own behind a veth pair shaped with htb on kv's side (netem is
missing on these machines; see ../shared/LINK.md). The viewer reads `/stream`
(MJPEG parts) or `/ws/video` (binary WebSocket messages, each acknowledged as
soon as it is whole, as the UI does once it has drawn it). For each rate it
prints the pictures per second the viewer gets, the latency from capture to a
whole picture received (kv's capture stamp, `X-Timestamp-Us` or the message
header's, against the viewer's CLOCK_MONOTONIC, the same clock in every
namespace) and the bytes per second on the wire.

    cargo build --release && sudo python3 bench/link.py [--rates 2 5 20] [--seconds 12]
        [--kv target/release/kv] [--baseline OTHER_KV] [--size 1920x1080]
        [--routes /stream /ws/video]

`--baseline` runs a second kv binary through the same links in the same run (for
example one built from an older commit) and prints the ratios. Needs root (it
creates the namespace `kvlink` and the veth `kvlh`/`kvlc`, and removes them at
the end). Speed is reported, never asserted: it exits non-zero only when the run
itself broke.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

NS, HOST_IF, NS_IF = "kvlink", "kvlh", "kvlc"
KV_ADDR, NS_ADDR, PORT = "10.199.7.1", "10.199.7.2", 3177
WARMUP = 2.0

# The viewer runs inside the namespace as its own Python process.
VIEWER = r'''
import base64, os, socket, struct, sys, time
host, port, secs, warmup, route = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
s = socket.create_connection((host, port), timeout=10)
buf, lat, received, start = b"", [], 0, time.monotonic()
measured_from, bytes_at_start = None, 0
def need(n):
    global buf, received
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise SystemExit("kv closed " + route)
        received += len(d)
        buf += d
def take(n):
    global buf
    need(n)
    data, buf = buf[:n], buf[n:]
    return data
def head():
    # A head up to its blank line: the first line and the headers.
    global buf
    need(4)
    i = buf.find(b"\r\n\r\n")
    while i < 0:
        need(len(buf) + 1)
        i = buf.find(b"\r\n\r\n")
    lines = take(i + 4).decode("latin1").split("\r\n")
    return lines[0], dict((l.split(":", 1)[0].strip().lower(), l.split(":", 1)[1].strip())
                          for l in lines[1:] if ":" in l)
if route == "/stream":
    s.sendall(("GET /stream HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    def next_frame():
        while True:
            _, h = head()
            if "content-length" in h:  # not the response head
                take(int(h["content-length"]) + 13)
                return int(h["x-timestamp-us"])
else:
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws/video HTTP/1.1\r\nHost: %s:%d\r\nOrigin: http://%s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n"
               % (host, port, host, port, key)).encode())
    status, _ = head()
    if " 101 " not in status:
        raise SystemExit("/ws/video refused: " + status)
    def send(opcode, payload):
        mask = os.urandom(4)
        s.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask
                  + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    def next_frame():
        while True:
            b0, n = take(2)
            n &= 0x7F
            if n >= 126:
                n = int.from_bytes(take(2 if n == 126 else 8), "big")
            payload = take(n)
            if b0 & 0x0F == 9:
                send(10, payload)
            elif b0 & 0x0F == 2:
                seq, us = struct.unpack(">QQ", payload[4:20])
                send(1, ('{"type":"ack","seq":%d}' % seq).encode())
                return us
while time.monotonic() - start < warmup + secs:
    captured_us = next_frame()
    now_ms = time.clock_gettime(time.CLOCK_MONOTONIC) * 1000
    if time.monotonic() - start >= warmup:
        if measured_from is None:
            measured_from, bytes_at_start = time.monotonic(), received
        lat.append(now_ms - captured_us / 1000)
elapsed = time.monotonic() - measured_from
lat.sort()
print("%.2f %.1f %.1f %.1f" % (len(lat) / elapsed, lat[len(lat) // 2],
      lat[min(len(lat) - 1, int(len(lat) * 0.99))], (received - bytes_at_start) / elapsed / 1000))
'''


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


def start_kv(binary, size):
    proc = subprocess.Popen([binary, "--demo", "-r", size, "-b", KV_ADDR, "-p", str(PORT)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    for line in proc.stderr:
        if re.search(r"Listening on http://", line):
            # Keep reading its log so kv never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc
        if time.monotonic() > deadline:
            break
    proc.kill()
    sys.exit(f"{binary} did not start listening on {KV_ADDR}:{PORT}")


def measure(binary, size, mbit, seconds, route):
    shape(mbit)
    kv = start_kv(binary, size)
    try:
        out = sh("ip", "netns", "exec", NS, sys.executable, "-c", VIEWER,
                 KV_ADDR, str(PORT), str(seconds), str(WARMUP), route)
        fps, p50, p99, kbs = (float(x) for x in out.stdout.split())
        return fps, p50, p99, kbs
    except subprocess.CalledProcessError as e:
        sys.exit(f"{route} viewer failed at {mbit} Mbit/s: {e.stderr.strip()}")
    finally:
        kv.terminate()
        kv.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kv", default="target/release/kv")
    ap.add_argument("--baseline", help="a second kv binary, measured through the same links")
    ap.add_argument("--rates", type=float, nargs="+", default=[2, 5, 20], help="Mbit/s")
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--size", default="1920x1080", help="the demo source's resolution")
    ap.add_argument("--routes", nargs="+", default=["/stream", "/ws/video"],
                    choices=["/stream", "/ws/video"], help="what the viewer reads")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/link.py needs root: it creates a network namespace and shapes a veth")
    binaries = [("kv", args.kv)] + ([("baseline", args.baseline)] if args.baseline else [])
    for _, b in binaries:
        if not os.access(b, os.X_OK):
            sys.exit(f"{b}: not an executable; build it first (cargo build --release)")
    link_up()
    try:
        print(f"kv --demo -r {args.size}, one viewer, {args.seconds:.0f} s after {WARMUP:.0f} s warm-up")
        print(f"{'link':>9} {'route':>9} {'binary':>9} {'pictures/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'kB/s':>7}")
        for mbit in args.rates:
            for route in args.routes:
                rows = {}
                for name, b in binaries:
                    rows[name] = measure(b, args.size, mbit, args.seconds, route)
                    fps, p50, p99, kbs = rows[name]
                    print(f"{mbit:>4g} Mb/s {route:>9} {name:>9} {fps:>10.1f} {p50:>8.0f} {p99:>8.0f} {kbs:>7.0f}",
                          flush=True)
                if "baseline" in rows:
                    (_, k50, k99, _), (_, b50, b99, _) = rows["kv"], rows["baseline"]
                    print(f"{'':>9} {'':>9} {'ratio':>9} {'':>10} {k50 / b50:>8.2f} {k99 / b99:>8.2f}")
    finally:
        link_down()


if __name__ == "__main__":
    main()
