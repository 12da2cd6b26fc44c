#!/usr/bin/env python3
"""Turns the BENCH lines of a tests/vm log (written by bench/vm-bench's scenarios)
into markdown tables, with kv/ustreamer ratios from the same run.

usage: tables.py LOG
"""
import sys


def records(path):
    for line in open(path, errors="replace"):
        line = line.strip()
        if line.startswith("BENCH-INFO "):
            print("feed:", line[len("BENCH-INFO "):])
        if not line.startswith("BENCH "):
            continue
        words = line.split()[1:]
        fields = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        fields["kind"] = words[0]
        yield fields


def num(r, key):
    if key.startswith("lat_") and r.get("lat_n") == "0":
        return None  # nothing delivered: no latency, not 0 ms
    try:
        return float(r[key])
    except (KeyError, ValueError):
        return None


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def fanout(rows):
    by = {(r["server"], r["res"], int(r["viewers"])): r for r in rows if r["kind"] == "fanout"}
    for res in sorted({k[1] for k in by}, key=int):
        print(f"\n### Fan-out, {res}p, desktop frames fed at 30 fps\n")
        print("| viewers | fps/viewer kv (min) | fps/viewer ustr (min) | CPU s/1k frames kv | ustr | **kv/ustr** "
              "| RSS MiB kv (own) | ustr (own) | lat p50/p99 ms kv | ustr | guest CPU busy % kv / ustr |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in sorted({k[2] for k in by if k[1] == res}):
            kv, us = by.get(("kv", res, n), {}), by.get(("ustreamer", res, n), {})
            cell = lambda r, k, d=1: fmt(num(r, k), d)
            def mib(r):
                if num(r, "rss_kb") is None:
                    return "-"
                return f"{num(r, 'rss_kb') / 1024:.1f} ({num(r, 'rss_anon_kb') / 1024:.1f})"
            print(f"| {n} | {cell(kv, 'fps_mean')} ({cell(kv, 'fps_min')}) | {cell(us, 'fps_mean')} ({cell(us, 'fps_min')}) "
                  f"| {cell(kv, 'cpu_s_per_1k', 3)} | {cell(us, 'cpu_s_per_1k', 3)} "
                  f"| **{ratio(num(kv, 'cpu_s_per_1k'), num(us, 'cpu_s_per_1k'))}** "
                  f"| {mib(kv)} | {mib(us)} "
                  f"| {cell(kv, 'lat_p50_ms')} / {cell(kv, 'lat_p99_ms')} | {cell(us, 'lat_p50_ms')} / {cell(us, 'lat_p99_ms')} "
                  f"| {cell(kv, 'guest_busy_pct', 0)} / {cell(us, 'guest_busy_pct', 0)} |")


def cpu_split(rows):
    found = [r for r in rows if r["kind"] == "fanout" and "user_s" in r]
    if found:
        print("\n### Where the server's CPU goes: user / system seconds per 1,000 delivered frames\n")
        print("| res | viewers | kv user | kv sys | ustr user | ustr sys |")
        print("|---:|---:|---:|---:|---:|---:|")
        by = {(r["server"], r["res"], int(r["viewers"])): r for r in found}
        for res, n in sorted({(k[1], k[2]) for k in by}, key=lambda k: (int(k[0]), k[1])):
            cells = []
            for server in ("kv", "ustreamer"):
                r = by.get((server, res, n), {})
                frames = num(r, "frames")
                for key in ("user_s", "sys_s"):
                    v = num(r, key)
                    cells.append(fmt(v * 1000 / frames if v is not None and frames else None, 3))
            print(f"| {res}p | {n} | " + " | ".join(cells) + " |")


def idle(rows):
    found = [r for r in rows if r["kind"] == "idle"]
    if found:
        print("\n### Memory with no viewer (1 s after start)\n")
        print("| server | res | RSS MiB | own (anon) | file + shared maps |")
        print("|---|---:|---:|---:|---:|")
        for r in found:
            own = num(r, "rss_anon_kb") or 0
            maps = num(r, "rss_file_kb") or 0
            print(f"| {r['server']} | {r['res']}p | {num(r, 'rss_kb') / 1024:.1f} | {own / 1024:.1f} | {maps / 1024:.1f} |")


def slow(rows):
    found = [r for r in rows if r["kind"] == "slow"]
    if found:
        print("\n### 20 fast viewers beside 1 stalled and 1 throttled to 50 KB/s (1080p)\n")
        print("| server | fast fps/viewer mean | fast min | stalled, throttled fps | CPU s/1k frames | RSS MiB (own) | lat p99 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in found:
            print(f"| {r['server']} | {fmt(num(r, 'fps_mean'))} | {fmt(num(r, 'fps_min'))} | {r.get('slow_fps', '-')} "
                  f"| {fmt(num(r, 'cpu_s_per_1k'), 3)} | {num(r, 'rss_kb') / 1024:.1f} ({num(r, 'rss_anon_kb') / 1024:.1f}) "
                  f"| {fmt(num(r, 'lat_p99_ms'))} |")


def inputs(rows):
    found = [r for r in rows if r["kind"] == "input"]
    rss = {r["viewers"]: r for r in rows if r["kind"] == "input-rss"}
    if found:
        print("\n### Input: WebSocket key message sent -> keyboard report out of kv (pty), 1080p source\n")
        print("| viewers streaming | messages | lost | p50 ms | p99 ms | max ms | kv RSS MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for r in found:
            m = rss.get(r["viewers"], {})
            print(f"| {r['viewers']} | {r['n']} | {r['lost']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} "
                  f"| {fmt(num(m, 'rss_kb') / 1024 if num(m, 'rss_kb') else None)} |")
    for r in rows:
        if r["kind"] == "input-load":
            print(f"\n(load during the input run: {r['viewers']} viewers at {r['fps_mean']} fps, "
                  f"lat p99 {r['lat_p99_ms']} ms)")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = list(records(sys.argv[1]))
    if not rows:
        sys.exit(f"{sys.argv[1]}: no BENCH lines")
    fanout(rows)
    cpu_split(rows)
    idle(rows)
    slow(rows)
    inputs(rows)


if __name__ == "__main__":
    main()
