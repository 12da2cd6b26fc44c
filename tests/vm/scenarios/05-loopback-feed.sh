# The harness's stand-in for an HDMI dongle: guest-tools mjpeg-feed writes JPEGs into
# v4l2loopback, and the node then captures MJPEG like a real dongle. Video scenarios
# build on this (see tests/vm/README.md).

modprobe v4l2loopback video_nr=3 card_label=kv-test-dongle exclusive_caps=1 max_buffers=4 2>/tmp/modprobe.err
if ! waitfor 5 test -e /dev/video3; then
  result loopback-node FAIL "/dev/video3 did not appear; modprobe: $(cat /tmp/modprobe.err); nodes: $(ls /dev/video* 2>&1); dmesg: $(dmesg | tail -n 4 | tr '\n' ' ')"
  return 0
fi
[ -z "$(capture_nodes)" ] && result loopback-no-capture-before-feed PASS "no capture node until a writer sets the format" ||
  result loopback-no-capture-before-feed FAIL "capture nodes: $(capture_nodes | tr '\n' ' ')"

spawn feed guest-tools mjpeg-feed /dev/video3 640 480 30
if waitfor 10 grep -q 'first frame written' /tmp/feed.log; then
  result loopback-feed PASS "$(head -n 1 /tmp/feed.log)"
else
  result loopback-feed FAIL "$(excerpt /tmp/feed.log)"
fi

fmt=$(v4l2-ctl -d /dev/video3 --get-fmt-video 2>&1)
if [ "$(capture_nodes)" = /dev/video3 ] && echo "$fmt" | grep -q "MJPG" && echo "$fmt" | grep -q '640/480'; then
  result loopback-capture-format PASS "/dev/video3 captures MJPG 640x480"
else
  result loopback-capture-format FAIL "capture nodes: $(capture_nodes) format: $(echo "$fmt" | tr '\n' ' ')"
fi

if v4l2-ctl -d /dev/video3 --stream-mmap --stream-count=10 --stream-to=/tmp/loopback.mjpg >/tmp/capture.log 2>&1; then
  head=$(head -c 3 /tmp/loopback.mjpg | hexdump -v -e '1/1 "%02x"')
  size=$(stat -c %s /tmp/loopback.mjpg)
  if [ "$head" = ffd8ff ] && [ "$size" -gt 10000 ]; then
    result loopback-capture PASS "10 buffers via mmap, $size bytes, starts with a JPEG marker"
  else
    result loopback-capture FAIL "head=$head size=$size; v4l2-ctl: $(excerpt /tmp/capture.log 2)"
  fi
else
  result loopback-capture FAIL "$(excerpt /tmp/capture.log)"
fi
stop feed
