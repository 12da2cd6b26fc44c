# kv --gadget --images on dummy_hcd: an image uploaded over HTTP shows up on the host
# side as a USB flash drive byte for byte (read-write, then read-only); an ISO attached as
# CD-ROM is read back from the host's /dev/srN; eject leaves no medium. Throughout, the
# host-side keyboard is the same evdev device (the HID functions were never re-plugged).

modprobe sr_mod
modprobe v4l2loopback video_nr=3 exclusive_caps=1 max_buffers=4
spawn feed guest-tools mjpeg-feed /dev/video3 320 240 5
waitfor 10 grep -q 'first frame written' /tmp/feed.log

IMAGES=/tmp/images
dd if=/dev/urandom of=/tmp/disk.img bs=1024 count=4096 2>/dev/null
dd if=/dev/urandom of=/tmp/cd.iso bs=2048 count=1024 2>/dev/null

if ! kv_start --gadget --images "$IMAGES" -d /dev/video3 -p 8080; then
  result media-start FAIL "kv did not start: $(excerpt /tmp/kv.log 5)"
  return 0
fi
result media-start PASS "$(grep -m1 'Images:' /tmp/kv.log)"

# The host-side device of kv's keyboard (the event node with LEDs) and its input device.
keyboard() {
  local e
  for e in /sys/class/input/event*; do
    case "$(cat "$e/device/phys" 2>/dev/null)" in *dummy_hcd*) ;; *) continue ;; esac
    [ "$(cat "$e/device/capabilities/led")" != 0 ] && { echo "/dev/input/${e##*/} $(readlink -f "$e/device")"; return 0; }
  done
  return 1
}
put() { # NAME FILE: PUT the file's bytes, print the status line
  { printf 'PUT /api/images/%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/octet-stream\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
      "$1" "$KV_PORT" "$(wc -c < "$2")"; cat "$2"; } | timeout 60 nc 127.0.0.1 "$KV_PORT" > /tmp/put.log 2>&1
  head -n 1 /tmp/put.log
}
api() { guest-tools http "$@" > /tmp/api.log 2>&1; head -n 1 /tmp/api.log; }

if waitfor 20 keyboard && waitfor 20 host_block sd && waitfor 20 host_block sr; then
  KBD_BEFORE=$(keyboard) SD=$(host_block sd) SR=$(host_block sr)
  result media-enumerated PASS "keyboard ${KBD_BEFORE%% *}, flash drive $SD, CD-ROM $SR, both empty"
else
  result media-enumerated FAIL "host side: $(ls /sys/block | tr '\n' ' '); $(grep -E 'N: Name' /proc/bus/input/devices | tr '\n' ' ')"
  kv_stop
  return 0
fi

line=$(put disk.img /tmp/disk.img)
if echo "$line" | grep -q ' 200 ' && cmp /tmp/disk.img "$IMAGES/disk.img"; then
  result media-upload PASS "$line, $(wc -c < "$IMAGES/disk.img") bytes stored identical"
else
  result media-upload FAIL "$line $(excerpt /tmp/put.log 2)"
fi
line=$(put cd.iso /tmp/cd.iso)
echo "$line" | grep -q ' 200 ' || result media-upload-iso FAIL "$line $(excerpt /tmp/put.log 2)"

line=$(api POST "$KV_URL/api/media/attach" '{"name":"disk.img","mode":"flash"}')
if waitfor 20 cmp "$SD" /tmp/disk.img; then
  result media-flash-identical PASS "$line; $SD reads $(wc -c < "$SD") bytes identical to the upload"
else
  result media-flash-identical FAIL "$line; $(cmp "$SD" /tmp/disk.img 2>&1 | head -n 1); kv: $(excerpt /tmp/kv.log 3)"
fi
# Read-write: what the host writes lands in the image.
dd if=/dev/urandom of=/tmp/sector bs=512 count=1 2>/dev/null
dd if=/tmp/sector of="$SD" bs=512 seek=7 count=1 conv=fsync 2>/dev/null
if dd if="$IMAGES/disk.img" bs=512 skip=7 count=1 2>/dev/null | cmp - /tmp/sector; then
  result media-flash-writable PASS "a sector written on $SD is in $IMAGES/disk.img"
else
  result media-flash-writable FAIL "sector 7 of the image differs from what the host wrote to $SD; kv: $(excerpt /tmp/kv.log 3); dmesg: $(dmesg | tail -n 3 | tr '\n' ' ')"
fi
check media-delete-attached sh -c "guest-tools http DELETE $KV_URL/api/images/disk.img | grep -E '409|eject'"

cp "$IMAGES/disk.img" /tmp/disk-now.img
line=$(api POST "$KV_URL/api/media/attach" '{"name":"disk.img","mode":"flash-ro"}')
if waitfor 20 sh -c "cmp $SD /tmp/disk-now.img && [ \$(blockdev --getro $SD) = 1 ]"; then
  result media-flash-readonly PASS "$line; $SD read-only"
else
  result media-flash-readonly FAIL "$line; ro=$(blockdev --getro "$SD" 2>&1)"
fi

line=$(api POST "$KV_URL/api/media/attach" '{"name":"cd.iso","mode":"cdrom"}')
if waitfor 20 cmp "$SR" /tmp/cd.iso; then
  result media-cdrom-identical PASS "$line; $SR ($(cat /sys/block/${SR#/dev/}/device/type 2>/dev/null | sed 's/^5$/type 5, CD-ROM/')) reads the ISO's $(wc -c < /tmp/cd.iso) bytes"
else
  result media-cdrom-identical FAIL "$line; $(cmp "$SR" /tmp/cd.iso 2>&1 | head -n 1); kv: $(excerpt /tmp/kv.log 3)"
fi
no_medium() { ! dd if="$1" of=/dev/null bs=2048 count=1 2>/dev/null; }
if waitfor 20 no_medium "$SD"; then
  result media-swap-ejects-flash PASS "$SD has no medium while the CD-ROM holds the ISO"
else
  result media-swap-ejects-flash FAIL "$SD still readable after attaching the CD-ROM ($line); kv: $(excerpt /tmp/kv.log 3)"
fi

line=$(api POST "$KV_URL/api/media/eject")
if waitfor 20 no_medium "$SR" && no_medium "$SD"; then
  result media-eject PASS "$line; $(dd if="$SR" of=/dev/null bs=2048 count=1 2>&1 | head -n 1)"
else
  result media-eject FAIL "$line; $SR or $SD still readable; kv: $(excerpt /tmp/kv.log 3)"
fi

KBD_AFTER=$(keyboard)
if [ "$KBD_AFTER" = "$KBD_BEFORE" ]; then
  spawn kbd guest-tools evdev-read "${KBD_AFTER%% *}" 20
  waitfor 5 grep -q listening /tmp/kbd.log
  guest-tools ws-send "ws://127.0.0.1:$KV_PORT/ws" '{"type":"key","code":"KeyA","down":true}' '{"type":"key","code":"KeyA","down":false}' > /tmp/ws.log 2>&1
  if waitfor 10 grep -q '^EV_KEY 30 0' /tmp/kbd.log; then
    result media-keyboard-same-device PASS "$KBD_AFTER, still typing"
  else
    result media-keyboard-same-device FAIL "no KeyA on ${KBD_AFTER%% *}: $(excerpt /tmp/kbd.log 3)"
  fi
else
  result media-keyboard-same-device FAIL "before: $KBD_BEFORE after: $KBD_AFTER"
fi

kv_stop
if [ ! -e /sys/kernel/config/usb_gadget/kv ]; then
  result media-gadget-removed PASS "status $STOP_STATUS"
else
  result media-gadget-removed FAIL "$(ls /sys/kernel/config/usb_gadget/kv/functions 2>&1 | tr '\n' ' ')"
fi
