#!/usr/bin/env python3
"""Whether wrong passwords from many addresses cost a logged-in operator
(issue 15, finding 2). kv --demo runs with a stored argon2 hash
(`kv --hash-password`, argon2's default cost); the operator logs in once, then
a /ws client sends a WebSocket ping every 20 ms and times its pong (answered
in the loop turn that reads it, as a keystroke is forwarded), and a /stream
viewer records the longest gap between frames. First alone, then while 200
loopback addresses (127.0.1.1 to 127.0.10.20, one socket bound to each in
turn, 20 threads) send wrong Basic credentials as fast as kv answers them.

    cargo build --release && python3 bench/auth_flood.py [--kv target/release/kv] [--seconds 8]

Run it against an older build with --kv to compare. Reports, never asserts.
"""
import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from link_viewer import Conn, pong_times  # noqa: E402

WRONG = "Basic " + base64.b64encode(b"op:wrong").decode()


def start(kv):
    hashed = subprocess.run([kv, "--hash-password"], input=b"pw\n", capture_output=True,
                            check=True).stdout.decode().strip()
    env = dict(os.environ, KV_USER="op", KV_PASSWORD_HASH=hashed)
    proc = subprocess.Popen([kv, "--demo", "-b", "127.0.0.1", "-p", "0", "-r", "640x480", "-f", "30"],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    for line in proc.stderr:
        line = line.decode(errors="replace")
        if "Listening on http://" in line:
            port = int(line.rsplit(":", 1)[1])
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, port
    raise SystemExit("kv did not start")


def login(port):
    body = json.dumps({"user": "op", "password": "pw"}).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall((f"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
              + body)
    head = s.recv(65536).decode("latin1")
    for line in head.split("\r\n"):
        if line.lower().startswith("set-cookie:"):
            return line.split(":", 1)[1].split(";")[0].strip()
    raise SystemExit("login failed: " + head.split("\r\n")[0])


def pings(port, cookie, seconds):
    c = Conn("127.0.0.1", port)
    c.upgrade("127.0.0.1", port, "/ws", f"Cookie: {cookie}\r\n")
    rtts = pong_times(c, seconds)
    c.s.close()
    return rtts


def viewer(port, cookie, stop, gaps):
    c = Conn("127.0.0.1", port)
    c.s.sendall(f"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n".encode())
    c.head()
    last = time.monotonic()
    while not stop.is_set():
        _, h = c.head()
        if "content-length" in h:
            c.take(int(h["content-length"]) + 13)
            now = time.monotonic()
            gaps.append((now - last) * 1000)
            last = now


def guesser(port, t, stop, answers):
    n = 0
    while not stop.is_set():
        source = f"127.0.{1 + n % 10}.{1 + t}"
        n += 1
        try:
            s = socket.socket()
            s.bind((source, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            s.sendall((f"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {WRONG}\r\n"
                       "Connection: close\r\n\r\n").encode())
            code = s.recv(64).split(b" ")[1].decode()
            answers[code] = answers.get(code, 0) + 1
        except (OSError, IndexError):
            answers["error"] = answers.get("error", 0) + 1
        finally:
            s.close()


def operator(port, stop, tries):
    """The real user's script from its own address: the right password once
    a second; records how many seconds each try took to get in."""
    right = "Basic " + base64.b64encode(b"op:pw").decode()
    while not stop.is_set():
        start = time.monotonic()
        while not stop.is_set():
            s = socket.socket()
            s.bind(("127.0.0.99", 0))
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
                s.sendall((f"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {right}\r\n"
                           "Connection: close\r\n\r\n").encode())
                code = s.recv(64).split(b" ")[1]
            except (OSError, IndexError):
                code = b"error"
            finally:
                s.close()
            if code == b"200":
                tries.append(time.monotonic() - start)
                break
            time.sleep(1)
        time.sleep(1)


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def phase(name, port, cookie, seconds, flood):
    stop, gaps, answers = threading.Event(), [], {}
    threads = [threading.Thread(target=viewer, args=(port, cookie, stop, gaps), daemon=True)]
    tries = []
    if flood:
        threads += [threading.Thread(target=guesser, args=(port, t, stop, answers), daemon=True)
                    for t in range(20)]
        threads.append(threading.Thread(target=operator, args=(port, stop, tries), daemon=True))
    for th in threads:
        th.start()
    time.sleep(0.5)
    rtts = pings(port, cookie, seconds)
    stop.set()
    gap = max(gaps[1:], default=float("nan"))
    print(f"{name:<28} ping p50 {pct(rtts, .5):7.2f} ms  p99 {pct(rtts, .99):8.2f} ms  "
          f"max {rtts[-1]:8.2f} ms  ({len(rtts)} pings)  longest frame gap {gap:7.1f} ms"
          + (f"  answers {dict(sorted(answers.items()))}" if flood else ""))
    if flood:
        print(f"{'':<28} right password from 127.0.0.99: {len(tries)} logins, "
              f"slowest {max(tries, default=float('nan')):.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kv", default=os.path.join(HERE, "..", "target", "release", "kv"))
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()
    proc, port = start(args.kv)
    try:
        cookie = login(port)
        phase("alone", port, cookie, args.seconds, False)
        phase("200 addresses guessing", port, cookie, args.seconds, True)
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
