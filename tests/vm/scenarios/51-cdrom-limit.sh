# The size limit of the kernel's USB CD-ROM (f_mass_storage with cdrom=1), measured, and
# kv's refusal of images above it. First a bare configfs gadget (no kv) with one CD-ROM
# LUN holds sparse images of exactly the limit and one block over it, each with a marker
# in its last 2048 bytes: the host's /dev/srN reports its capacity and reads back (or
# not) the marker. Then kv attaches the image at the limit as a CD-ROM (its last sector
# reads back), refuses the one over it as a CD-ROM, and attaches it as a flash drive,
# whose last sector reads back.

modprobe sr_mod
IMAGES=/tmp/images
mkdir -p "$IMAGES"
# 256*60*75 CD frames (256 minutes of 75 frames a second) less one: the kernel's cap.
LIMIT=$((256 * 60 * 75 - 1))
make_image() { # FILE BLOCKS MARKER: sparse, MARKER at the start of its last 2048-byte block
  truncate -s $(($2 * 2048)) "$1"
  printf '%s' "$3" | dd of="$1" bs=2048 seek=$(($2 - 1)) conv=notrunc 2>/dev/null
}
make_image "$IMAGES/at-limit.iso" "$LIMIT" kv-marker-at-limit
make_image "$IMAGES/over-limit.iso" $((LIMIT + 1)) kv-marker-over-limit

blocks() { # DEV BLOCKSIZE: capacity in blocks (0 without a medium)
  local bytes
  bytes=$(blockdev --getsize64 "$1" 2>/dev/null) || bytes=0
  echo $((bytes / $2))
}
has_medium() { [ "$(blocks "$1" 2048)" -gt 0 ]; }
sr_has_medium() { has_medium "$(host_block sr)"; }
sr_empty() { ! sr_has_medium; }
marker_at() { # DEV BLOCKSIZE BLOCK: the marker-sized text at the start of BLOCK
  dd if="$1" bs="$2" skip="$3" count=1 2>/dev/null | head -c 21 | tr -cd 'a-z-'
}

# --- the kernel alone ---
G=/sys/kernel/config/usb_gadget/cdlimit
mkdir "$G"
echo 0x1d6b > "$G/idVendor"
echo 0x0104 > "$G/idProduct"
mkdir "$G/strings/0x409" "$G/configs/c.1" "$G/functions/mass_storage.0"
L=$G/functions/mass_storage.0/lun.0
echo 1 > "$L/removable"
echo 1 > "$L/cdrom"
echo 1 > "$L/ro"
ln -s "$G/functions/mass_storage.0" "$G/configs/c.1/"
ls /sys/class/udc | head -n 1 > "$G/UDC"

measure() { # NAME IMAGE BLOCKS: attach, then report capacity and the marker
  local sr got cap
  echo "$2" > "$L/file"
  if ! waitfor 30 sr_has_medium; then
    result "cdrom-kernel-$1" FAIL "no medium on the host: $(ls /sys/block | tr '\n' ' '); $(dmesg | tail -n 3 | tr '\n' ' ')"
    return
  fi
  sr=$(host_block sr)
  cap=$(blocks "$sr" 2048)
  got=$(marker_at "$sr" 2048 $(($3 - 1)))
  echo "$1 $cap $got" >> /tmp/cdrom-measured
  result "cdrom-kernel-$1" PASS "image $3 blocks ($(($3 * 2048)) bytes): $sr reports $cap blocks of 2048; last block reads '${got:-nothing}'; dmesg: $(dmesg | grep -E 'too big|using only' | tail -n 2 | tr '\n' ' ')"
  echo > "$L/file"
  waitfor 30 sr_empty
}
: > /tmp/cdrom-measured
measure at-limit "$IMAGES/at-limit.iso" "$LIMIT"
measure over-limit "$IMAGES/over-limit.iso" $((LIMIT + 1))

echo > "$G/UDC"
rm "$G/configs/c.1/mass_storage.0"
rmdir "$G/functions/mass_storage.0" "$G/configs/c.1" "$G/strings/0x409" "$G"

# What the measurement says: the whole image at the limit, one block less than the image over it.
if grep -q "^at-limit $LIMIT kv-marker-at-limit\$" /tmp/cdrom-measured &&
  grep -q "^over-limit $LIMIT \$" /tmp/cdrom-measured; then
  result cdrom-kernel-limit PASS "the CD-ROM shows at most $LIMIT blocks ($((LIMIT * 2048)) bytes) on $(uname -r)"
else
  result cdrom-kernel-limit FAIL "expected $LIMIT blocks for both, the marker only at the limit: $(tr '\n' ';' < /tmp/cdrom-measured)"
fi

# --- kv: the image at the limit goes in as a CD-ROM, the one over it is refused with the
# way out, and goes in as a flash drive, whole.
modprobe v4l2loopback video_nr=3 exclusive_caps=1 max_buffers=4
spawn feed guest-tools mjpeg-feed /dev/video3 320 240 5
waitfor 10 grep -q 'first frame written' /tmp/feed.log
if ! kv_start --gadget --images "$IMAGES" -d /dev/video3 -p 8080; then
  result cdrom-kv-start FAIL "kv did not start: $(excerpt /tmp/kv.log 5)"
  return 0
fi
attach() { guest-tools http POST "$KV_URL/api/media/attach" "{\"name\":\"$1\",\"mode\":\"$2\"}" > /tmp/attach.log 2>&1; }
sr_marker_at_limit() { [ "$(marker_at "$(host_block sr)" 2048 $((LIMIT - 1)))" = kv-marker-at-limit ]; }
attach at-limit.iso cdrom
if waitfor 30 sr_marker_at_limit; then
  result cdrom-kv-at-limit PASS "$(head -n 1 /tmp/attach.log); $(host_block sr) reads the marker in block $((LIMIT - 1))"
else
  result cdrom-kv-at-limit FAIL "$(excerpt /tmp/attach.log 2); kv: $(excerpt /tmp/kv.log 3)"
fi
attach over-limit.iso cdrom
if head -n 1 /tmp/attach.log | grep -q ' 400 ' && grep -q 'shows only the first 2.36 GB.*flash-ro' /tmp/attach.log; then
  result cdrom-kv-refuses-over-limit PASS "$(head -n 1 /tmp/attach.log): $(tail -n 1 /tmp/attach.log)"
else
  result cdrom-kv-refuses-over-limit FAIL "$(excerpt /tmp/attach.log 3)"
fi
# As a flash drive (512-byte sectors) the marker is in the last sector but three.
sd_marker_over_limit() { [ "$(marker_at "$(host_block sd)" 512 $((LIMIT * 4)))" = kv-marker-over-limit ]; }
attach over-limit.iso flash-ro
if waitfor 30 sd_marker_over_limit; then
  result cdrom-kv-over-limit-as-flash PASS "$(head -n 1 /tmp/attach.log); $(host_block sd) has $(blocks "$(host_block sd)" 512) sectors, the marker in the image's last 2048 bytes"
else
  result cdrom-kv-over-limit-as-flash FAIL "$(excerpt /tmp/attach.log 2); kv: $(excerpt /tmp/kv.log 3)"
fi
kv_stop
rm -f "$IMAGES/at-limit.iso" "$IMAGES/over-limit.iso"
