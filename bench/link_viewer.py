#!/usr/bin/env python3
"""One viewer for bench/link.py, run inside the shaped namespace: reads kv's
`/stream` (MJPEG parts) or `/ws/video` (docs/API.md: kinds 1 whole frame, 2
changed areas, 3 unchanged, each acknowledged once whole; `stats` text read),
optionally typing 10 keys/s over `/ws`. An update counts as received when its
part or message is whole; its latency is kv's capture stamp against this
process's CLOCK_MONOTONIC (the same clock in every namespace).

    link_viewer.py HOST PORT SECONDS WARMUP ROUTE [--quality Q] [--keys]

Prints `measuring` when the measured window opens (link.py samples kv's CPU
then), and at the end one line: updates/s, latency p50 and p99 ms, wire kB/s,
mean bytes per update, and the kinds seen (`1:3,2:250,3:8`; `-` for /stream).
"""
import argparse
import base64
import os
import socket
import struct
import threading
import time


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=15)
        self.buf, self.received = bytearray(), 0
        self.sending = threading.Lock()  # the typist's pong and keys come from two threads

    def need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(1 << 18)
            if not d:
                raise SystemExit("kv closed the connection")
            self.received += len(d)
            self.buf += d

    def take(self, n):
        self.need(n)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def head(self):
        """A head up to its blank line: the first line and the headers."""
        while (i := self.buf.find(b"\r\n\r\n")) < 0:
            self.need(len(self.buf) + 1)
        lines = self.take(i + 4).decode("latin1").split("\r\n")
        return lines[0], {k.strip().lower(): v.strip() for k, _, v in
                          (line.partition(":") for line in lines[1:] if ":" in line)}

    def upgrade(self, host, port, path, extra=""):
        """The WebSocket handshake on `path`; `extra`: more header lines (a Cookie)."""
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: http://{host}:{port}\r\n{extra}"
                        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
        status, _ = self.head()
        if " 101 " not in status:
            raise SystemExit(f"{path} refused: {status}")

    def send(self, opcode, payload):
        mask, n = os.urandom(4), len(payload)
        size = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        frame = bytes([0x80 | opcode]) + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        with self.sending:
            self.s.sendall(frame)

    def message(self):
        """The next whole WebSocket message (opcode, payload); answers pings."""
        parts, opcode = [], None
        while True:
            b0, n = self.take(2)
            n &= 0x7F
            if n >= 126:
                n = int.from_bytes(self.take(2 if n == 126 else 8), "big")
            payload, op = self.take(n), b0 & 0x0F
            if op == 9:
                self.send(10, payload)
                continue
            if op >= 8:
                if op == 8:
                    raise SystemExit("kv closed the WebSocket: %r" % payload[2:])
                continue
            opcode = op if op else opcode
            parts.append(payload)
            if b0 & 0x80:
                return opcode, b"".join(parts)


def stream(c, host):
    c.s.sendall(f"GET /stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    while True:
        _, h = c.head()
        if "content-length" in h:  # not the response head
            n = int(h["content-length"])
            c.take(n + 13)
            yield "-", n, int(h["x-timestamp-us"])


def ws_video(c, host, port, quality):
    c.upgrade(host, port, "/ws/video" + (f"?quality={quality}" if quality else ""))
    while True:
        opcode, payload = c.message()
        if opcode == 1:  # stats (or an error) as text: read, nothing to measure
            if b'"error"' in payload:
                raise SystemExit("/ws/video: " + payload.decode(errors="replace"))
            continue
        kind = payload[0]
        seq, us = struct.unpack(">QQ", payload[4:20])
        if kind == 2:  # check the span table is whole before counting it
            n = struct.unpack(">H", payload[32:34])[0]
            if len(payload) < 36 + 10 * n:
                raise SystemExit(f"/ws/video: kind 2 message of {len(payload)} bytes, {n} spans")
        c.send(1, ('{"type":"ack","seq":%d}' % seq).encode())
        yield kind, len(payload), us


def pong_times(c, seconds):
    """Round trips, in ms and sorted, of a ping sent every 20 ms for `seconds` on the
    upgraded /ws `c`: kv answers a ping in the loop turn that reads it, as it forwards
    a key, so this is how long input waits for the loop."""
    rtts, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        sent = time.monotonic_ns()
        c.send(9, struct.pack(">Q", sent))
        while True:  # status messages may come first
            b0, n = c.take(2)
            n &= 0x7F
            if n >= 126:
                n = int.from_bytes(c.take(2 if n == 126 else 8), "big")
            payload = c.take(n)
            if b0 & 0x0F == 10 and payload == struct.pack(">Q", sent):
                break
        rtts.append((time.monotonic_ns() - sent) / 1e6)
        time.sleep(0.02)
    return sorted(rtts)


refused = []  # /ws's error messages to the typist


def typist(host, port):
    """10 key presses a second over /ws, as an operator typing."""
    c = Conn(host, port)
    c.upgrade(host, port, "/ws")

    def read():  # status messages; an error means the input path refused a key
        while True:
            _, payload = c.message()
            if b'"error"' in payload:
                refused.append(payload.decode(errors="replace"))
    threading.Thread(target=read, daemon=True).start()
    codes, i, t = ["Key" + chr(ord("A") + k) for k in range(26)] + ["Space"], 0, time.monotonic()
    while True:
        code = codes[i % len(codes)]
        c.send(1, ('{"type":"key","code":"%s","down":true}' % code).encode())
        time.sleep(0.03)
        c.send(1, ('{"type":"key","code":"%s","down":false}' % code).encode())
        i, t = i + 1, t + 0.1
        time.sleep(max(0.0, t - time.monotonic()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("warmup", type=float)
    ap.add_argument("route", choices=["/stream", "/ws/video"])
    ap.add_argument("--quality")
    ap.add_argument("--keys", action="store_true")
    a = ap.parse_args()
    if a.keys:
        def typing():
            try:
                typist(a.host, a.port)
            except BaseException as e:  # reported at the end
                refused.append(f"typist stopped: {e!r}")
        threading.Thread(target=typing, daemon=True).start()
    c = Conn(a.host, a.port)
    updates = stream(c, a.host) if a.route == "/stream" else ws_video(c, a.host, a.port, a.quality)
    start = time.monotonic()
    lat, kinds, sizes, measured_from, bytes_at_start = [], {}, 0, None, 0
    for kind, size, us in updates:
        now_ms = time.clock_gettime(time.CLOCK_MONOTONIC) * 1000
        t = time.monotonic()
        if t - start >= a.warmup:
            if measured_from is None:
                measured_from, bytes_at_start = t, c.received
                print("measuring", flush=True)
                continue
            lat.append(now_ms - us / 1000)
            kinds[kind] = kinds.get(kind, 0) + 1
            sizes += size
        if t - start >= a.warmup + a.seconds:
            break
    if refused:
        raise SystemExit("/ws refused a key: " + refused[0])
    elapsed = time.monotonic() - measured_from
    lat.sort()
    mix = ",".join(f"{k}:{n}" for k, n in sorted(kinds.items())) if a.route == "/ws/video" else "-"
    print("%.2f %.1f %.1f %.1f %d %s" % (len(lat) / elapsed, lat[len(lat) // 2],
          lat[min(len(lat) - 1, int(len(lat) * 0.99))], (c.received - bytes_at_start) / elapsed / 1000,
          sizes // max(1, len(lat)), mix), flush=True)


if __name__ == "__main__":
    main()
