#!/usr/bin/env python3
"""Renders desktop-like JPEG frames (wallpaper gradient, a panel with a clock,
a terminal, an editor and a browser-like window full of text, a mouse pointer)
for bench/vm-bench to feed into v4l2loopback. Consecutive frames differ the way a
working desktop does: the terminal scrolls, the clock ticks, the pointer moves.

usage: frames.py OUT_DIR WIDTH HEIGHT COUNT [QUALITY]     (needs Pillow)
"""
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFont

WORDS = ("kv stream frame viewer socket poll kernel buffer capture report gadget "
         "latency budget window cursor panel terminal editor browser build cargo test "
         "release memory thread queue device board target keyboard mouse").split()


def font(size, mono=False):
    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf"
    for folder in ("/usr/share/fonts/truetype/dejavu",):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def window(draw, box, title, s, body_fill=(250, 250, 250)):
    x0, y0, x1, y1 = box
    draw.rectangle((x0 + 6, y0 + 6, x1 + 6, y1 + 6), fill=(20, 20, 30))  # shadow
    draw.rectangle(box, fill=body_fill, outline=(90, 90, 110))
    draw.rectangle((x0, y0, x1, y0 + 28 * s // 10), fill=(52, 101, 164))
    draw.text((x0 + 10, y0 + 5 * s // 10), title, fill="white", font=font(15 * s // 10))
    for i, colour in enumerate(((237, 85, 59), (246, 213, 92), (60, 174, 163))):
        cx = x1 - 20 - i * 24
        draw.ellipse((cx - 7, y0 + 7, cx + 7, y0 + 21), fill=colour)
    return x0 + 10, y0 + 36 * s // 10


def frame(width, height, index, seed=7):
    s = max(10, height * 10 // 720)  # scale factor in tenths: 10 at 720p, 15 at 1080p
    rng = random.Random(seed)
    # Wallpaper: a diagonal gradient (smooth areas are most of a real desktop),
    # drawn small and scaled up smoothly.
    small = Image.new("RGB", (width // 8, height // 8))
    px = small.load()
    w, h = small.size
    for y in range(h):
        for x in range(w):
            px[x, y] = (40 + 60 * y // h, 70 + 80 * x // w, 120 + 100 * (x + y) // (w + h))
    img = small.resize((width, height), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    mono, sans = font(13 * s // 10, mono=True), font(14 * s // 10)
    line_h = 17 * s // 10

    # Terminal: scrolls by one line per frame.
    tx, ty = window(draw, (40 * s // 10, 60 * s // 10, width * 45 // 100, height * 70 // 100),
                    "user@board: ~/kv", s, body_fill=(24, 24, 28))
    lines = [f"$ cargo build --release  [{i:04d}] " + sentence(random.Random(i), 5)
             for i in range(index, index + 200)]
    for i, text in enumerate(lines[: (height * 70 // 100 - ty) // line_h - 1]):
        colour = (120, 220, 120) if text.startswith("$") and i % 3 == 0 else (220, 220, 220)
        draw.text((tx, ty + i * line_h), text, fill=colour, font=mono)

    # Editor: syntax-coloured code, static.
    ex, ey = window(draw, (width * 47 // 100, 50 * s // 10, width - 40 * s // 10, height * 55 // 100),
                    "src/video/fanout.rs - editor", s)
    for i in range((height * 55 // 100 - ey) // line_h - 1):
        indent = " " * (4 * (i % 4))
        draw.text((ex, ey + i * line_h), f"{i + 1:3d} ", fill=(150, 150, 150), font=mono)
        draw.text((ex + 40 * s // 10, ey + i * line_h), indent + "fn " + "_".join(rng.sample(WORDS, 2)) + "()",
                  fill=(0, 90, 170), font=mono)
        draw.text((ex + 40 * s // 10 + len(indent + "fn x_y()") * 8 * s // 10 + 60, ey + i * line_h),
                  "// " + sentence(rng, 3), fill=(100, 140, 100), font=mono)

    # Browser-like document: headings, paragraphs, a picture-ish block.
    bx, by = window(draw, (width * 30 // 100, height * 50 // 100, width * 90 // 100, height - 60 * s // 10),
                    "kv - remote KVM - browser", s)
    y = by
    while y < height - 90 * s // 10:
        draw.text((bx, y), sentence(rng, 4).title(), fill=(20, 20, 20), font=font(20 * s // 10))
        y += 30 * s // 10
        for _ in range(3):
            draw.text((bx, y), sentence(rng, 12), fill=(60, 60, 60), font=sans)
            y += line_h
        draw.rectangle((bx + 500 * s // 10, y - 3 * line_h, bx + 700 * s // 10, y), fill=(rng.randrange(256), 150, 200))
        y += 10

    # Panel with a clock that ticks every frame.
    draw.rectangle((0, 0, width, 30 * s // 10), fill=(30, 30, 36))
    draw.text((10, 6), "Activities   Files   Terminal   Browser", fill="white", font=sans)
    draw.text((width - 120 * s // 10, 6), f"13:{index // 30 % 60:02d}:{index % 60:02d}", fill="white", font=sans)

    # Mouse pointer, moving.
    mx, my = width // 3 + index * 9 * s // 10, height // 3 + index * 5 * s // 10
    draw.polygon([(mx, my), (mx, my + 20 * s // 10), (mx + 6 * s // 10, my + 15 * s // 10),
                  (mx + 14 * s // 10, my + 14 * s // 10)], fill="white", outline="black")
    return img


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    out, width, height, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    quality = int(sys.argv[5]) if len(sys.argv) == 6 else 85
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        path = os.path.join(out, f"{i:02d}.jpg")
        frame(width, height, i).save(path, "JPEG", quality=quality, subsampling="4:2:2")
        print(path, os.path.getsize(path))


if __name__ == "__main__":
    main()
