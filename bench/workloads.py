#!/usr/bin/env python3
"""Renders the slow-link bench's workloads once, as a capture dongle would send
them: 1080p-like desktop frames (frames.py's desktop), JPEG 4:2:2 at quality
90, one numbered file per frame at 30 fps, for bench/replay.rs to play back.

- still:  the desktop, unchanged (every frame the same bytes);
- typing: a terminal window where a character appears every 3rd frame (10/s):
          most frames equal the previous one, the others differ in a few MCUs;
          the line clears when the sequence loops, so the wrap is small too;
- scroll: a document window whose text moves up by SCROLL_PX every frame; the
          document repeats every FRAMES × SCROLL_PX pixels, so the loop is seamless;
- motion: the whole screen changes every frame (a panned, full-screen picture).

With --noise each frame gets uniform ±NOISE levels per pixel and channel before
encoding, as some dongles add (then no two frames are equal, even when still).

usage: workloads.py OUT_DIR [--size WxH] [--frames N] [--noise] [WORKLOAD...]
       (needs Pillow; bench/link.py runs it in a private venv)
"""
import argparse
import os
import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter

import frames

WORKLOADS = ("still", "typing", "scroll", "motion")
QUALITY, NOISE, SCROLL_PX, KEY_EVERY = 90, 2, 10, 3


def save(img, path, cache=None):
    """Writes img as the dongle's JPEG; `cache` reuses the bytes of an equal picture."""
    key = img.tobytes() if cache is not None else None
    if key is not None and key in cache:
        data = cache[key]
    else:
        tmp = path + ".tmp"
        img.save(tmp, "JPEG", quality=QUALITY, subsampling=1)  # 1 = 4:2:2
        with open(tmp, "rb") as f:
            data = f.read()
        os.unlink(tmp)
        if key is not None:
            cache[key] = data
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def noisy(img, rng):
    """img plus uniform noise in -NOISE..NOISE on every channel of every pixel."""
    lut = [v % (2 * NOISE + 1) for v in range(256)] * 3
    noise = Image.frombytes("RGB", img.size, rng.randbytes(img.width * img.height * 3)).point(lut)
    return ImageChops.add(img, noise, 1.0, -NOISE)


def typing_frames(desk, count, s):
    w, h = desk.size
    box = (w * 8 // 100, h * 62 // 100, w * 58 // 100, h * 92 // 100)
    base = desk.copy()
    draw = ImageDraw.Draw(base)
    tx, ty = frames.window(draw, box, "user@target: ~", s, body_fill=(24, 24, 28))
    mono, line_h = frames.font(13 * s // 10, mono=True), 17 * s // 10
    history = ["$ ls", "Cargo.toml  README.md  bench  src  tests  www",
               "$ git log --oneline | head -3", "047101c docs/API.md: a span names its source row",
               "a36b6d0 docs/API.md: change-only updates", "c00fa42 Merge branch coeff"]
    for i, text in enumerate(history):
        draw.text((tx, ty + i * line_h), text, fill=(220, 220, 220), font=mono)
    y = ty + len(history) * line_h
    text = "$ " + frames.sentence(random.Random(3), 12)
    for i in range(count):
        img = base.copy()
        d = ImageDraw.Draw(img)
        typed = text[: 2 + i // KEY_EVERY]
        d.text((tx, y), typed, fill=(120, 220, 120), font=mono)
        cx = tx + int(d.textlength(typed, font=mono))
        d.rectangle((cx + 1, y, cx + 8 * s // 10, y + line_h - 2), fill=(200, 200, 200))  # cursor
        yield img


def scroll_frames(desk, count, s):
    w, h = desk.size
    x0, y0, x1, y1 = w * 12 // 100, h * 6 // 100, w * 88 // 100, h * 96 // 100
    base = desk.copy()
    bx, by = frames.window(ImageDraw.Draw(base), (x0, y0, x1, y1), "Release notes - browser", s)
    view_w, view_h = x1 - bx - 10, y1 - by - 4
    period = count * SCROLL_PX
    # One period of document, tiled so any offset in 0..period has a full view below it.
    page = Image.new("RGB", (view_w, period), (255, 255, 255))
    draw, rng, y = ImageDraw.Draw(page), random.Random(11), 0
    sans, head, line_h = frames.font(14 * s // 10), frames.font(20 * s // 10), 17 * s // 10
    while y < period:
        draw.text((0, y), frames.sentence(rng, 4).title(), fill=(20, 20, 20), font=head)
        y += 30 * s // 10
        for _ in range(rng.randrange(2, 6)):
            draw.text((0, y), frames.sentence(rng, 14), fill=(60, 60, 60), font=sans)
            y += line_h
        y += 8
    tiles = -(-(view_h + period) // period) + 1
    doc = Image.new("RGB", (view_w, period * tiles))
    for t in range(tiles):
        doc.paste(page, (0, t * period))
    for i in range(count):
        img = base.copy()
        img.paste(doc.crop((0, i * SCROLL_PX, view_w, i * SCROLL_PX + view_h)), (bx, by))
        yield img


def motion_frames(desk, count, s):
    w, h = desk.size
    rng, step = random.Random(5), 12
    # A wide, detailed picture panned across the screen: every pixel changes each frame.
    wide = Image.new("RGB", (w + count * step, h), (30, 40, 60))
    draw = ImageDraw.Draw(wide)
    for _ in range(400):
        x, y, r = rng.randrange(wide.width), rng.randrange(h), rng.randrange(20, 220)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    wide = wide.filter(ImageFilter.GaussianBlur(6))
    draw = ImageDraw.Draw(wide)
    for _ in range(300):  # sharp detail on top, as in film or a game
        x, y = rng.randrange(wide.width), rng.randrange(h)
        draw.rectangle((x, y, x + rng.randrange(4, 60), y + rng.randrange(2, 30)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    for i in range(count):
        img = wide.crop((i * step, 0, i * step + w, h))
        ImageDraw.Draw(img).text((40, 40), f"frame {i:03d}", fill="white", font=frames.font(30 * s // 10))
        yield img


def render(out, workload, width, height, count, noise):
    os.makedirs(out, exist_ok=True)
    s = max(10, height * 10 // 720)
    desk = frames.frame(width, height, 0)
    seq = {"still": lambda: (desk for _ in range(count)), "typing": lambda: typing_frames(desk, count, s),
           "scroll": lambda: scroll_frames(desk, count, s), "motion": lambda: motion_frames(desk, count, s)}
    rng, cache, sizes = random.Random(13), ({} if not noise else None), []
    for i, img in enumerate(seq[workload]()):
        if noise:
            img = noisy(img, rng)
        sizes.append(save(img, os.path.join(out, f"{i:03d}.jpg"), cache))
    return sizes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--frames", type=int, default=90, help="frames per workload (30 per second)")
    ap.add_argument("--noise", action="store_true")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    for workload in args.workloads:
        if workload not in WORKLOADS:
            ap.error(f"unknown workload {workload!r}; use {', '.join(WORKLOADS)}")
        sizes = render(os.path.join(args.out, workload), workload, width, height, args.frames, args.noise)
        print(f"{workload}{' +noise' if args.noise else ''}: {len(sizes)} frames, "
              f"mean {sum(sizes) // len(sizes) // 1000} KB, distinct sizes {len(set(sizes))}")


if __name__ == "__main__":
    main()
