#!/usr/bin/env python3
"""Virtual media upload benchmark: kv's streamed upload (PUT /api/images/NAME over
loopback) against a plain `dd` of the same size into the same folder, and the frame
rate one /stream viewer sees before and during the upload.

    cargo build --release && python3 bench/media.py [--mib 512] [--kv target/release/kv]

Both writes end with `sync`, so both pay for the data reaching the disk. kv runs
`--demo` at 30 fps (its own JPEG encoder keeps one core busy, like a capture board's
load would), the viewer counts whole parts of /stream.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def start_kv(kv, images):
    proc = subprocess.Popen([kv, "--demo", "--images", images, "-b", "127.0.0.1", "-p", "0", "-f", "30"],
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        m = re.search(r"Listening on http://([\d.]+):(\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, (m.group(1), int(m.group(2)))
    sys.exit("kv did not start")


class Viewer(threading.Thread):
    """Reads /stream and records the arrival time of every frame."""

    def __init__(self, addr):
        super().__init__(daemon=True)
        self.addr, self.times, self.stop = addr, [], False

    def run(self):
        s = socket.create_connection(self.addr)
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        buf = b""
        while not self.stop:
            data = s.recv(1 << 16)
            if not data:
                return
            buf += data
            while True:
                i = buf.find(b"Content-Length: ")
                if i < 0:
                    break
                j = buf.find(b"\r\n\r\n", i)
                if j < 0:
                    break
                n = int(buf[i + 16:buf.find(b"\r\n", i)])
                if len(buf) < j + 4 + n:
                    break
                buf = buf[j + 4 + n:]
                self.times.append(time.monotonic())

    def fps(self, start, end):
        return sum(1 for t in self.times if start <= t < end) / (end - start)


def upload(addr, name, size):
    chunk = os.urandom(1 << 20)
    s = socket.create_connection(addr)
    s.sendall(f"PUT /api/images/{name} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n"
              f"Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n".encode())
    for _ in range(size >> 20):
        s.sendall(chunk)
    reply = s.recv(4096).split(b"\r\n", 1)[0].decode()
    s.close()
    return reply


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--kv", default="target/release/kv")
    ap.add_argument("--dir", default=None, help="images folder (default: a temp dir under /var/tmp)")
    args = ap.parse_args()
    size = args.mib << 20
    images = args.dir or tempfile.mkdtemp(prefix="kv-media-bench-", dir="/var/tmp")
    if shutil.disk_usage(images).free < 2 * size + (64 << 20):
        sys.exit(f"{images}: needs {2 * args.mib} MiB free")

    t = time.monotonic()
    subprocess.run(["dd", "if=/dev/urandom", f"of={images}/.dd-source", "bs=1M", f"count={args.mib}"],
                   check=True, capture_output=True)
    subprocess.run(["sync"], check=True)
    t = time.monotonic()
    subprocess.run(["dd", f"if={images}/.dd-source", f"of={images}/dd.img", "bs=1M"],
                   check=True, capture_output=True)
    subprocess.run(["sync"], check=True)
    dd_s = time.monotonic() - t
    os.remove(f"{images}/dd.img")
    os.remove(f"{images}/.dd-source")
    subprocess.run(["sync"], check=True)

    kv, addr = start_kv(args.kv, images)
    try:
        viewer = Viewer(addr)
        viewer.start()
        time.sleep(4)
        idle_start = time.monotonic() - 3
        idle_fps = viewer.fps(idle_start, idle_start + 3)
        t = time.monotonic()
        reply = upload(addr, "bench.img", size)
        subprocess.run(["sync"], check=True)
        up_end = time.monotonic()
        kv_s = up_end - t
        during_fps = viewer.fps(t, up_end)
        gaps = [b - a for a, b in zip(viewer.times, viewer.times[1:]) if a >= t and b <= up_end]
        viewer.stop = True
    finally:
        kv.terminate()
        kv.wait()
    os.remove(f"{images}/bench.img")
    mib = args.mib
    print(f"| {mib} MiB into {images} | time | MiB/s |")
    print("|---|---|---|")
    print(f"| dd bs=1M + sync | {dd_s:.2f} s | {mib / dd_s:.0f} |")
    print(f"| kv PUT over loopback + sync ({reply}) | {kv_s:.2f} s | {mib / kv_s:.0f} |")
    print()
    print("| viewer of /stream (kv --demo, 30 fps) | fps | longest gap between frames |")
    print("|---|---|---|")
    print(f"| before the upload | {idle_fps:.1f} | |")
    print(f"| during the upload | {during_fps:.1f} | {max(gaps, default=0) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
