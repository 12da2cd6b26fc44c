# /ws/video's change-only updates on a v4l2loopback "dongle" fed 4:2:2 q90 JPEGs, at a
# size on the 16x8 MCU grid (1280x720) and one off it (1366x768). guest-tools
# ws-video-check keeps the picture a page would draw, acks every update, and changes
# the fed frame itself (re-pointing the symlink feed-link plays), phase by phase:
#   first   the first update is a whole frame, decoding to exactly the fed frame
#   still   the same frame for 3 s: only "unchanged" (kind 3) or nothing, < 2 KB/s
#   change1 a 45x21 rectangle changed: kind 2 with few spans, and the picture is then
#           exactly the fed frame (same decoder on both sides, so no tolerance: kv sends
#           each span's neighbouring MCUs so chroma upsampling matches)
#   change2 a wholly different frame: kind 1 or kind 2, the picture exact again
# Exactness is pixel for pixel; a mismatch is reported with where and how much.

FPS=10
PORT=8080

# field LINE KEY : the value of KEY=... in a phase line.
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# only_kinds LINE KINDS : every kind the phase saw is one of KINDS (e.g. "2 3").
only_kinds() {
  local k
  for k in $(field "$1" kinds | tr ',' '\n' | sed 's/x.*//' | grep -vx none); do
    echo " $2 " | grep -q " $k " || return 1
  done
}
has_kind() { field "$1" kinds | tr ',' '\n' | grep -q "^$2x"; }

run_size() {
  local w=$1 h=$2 size=$1x$2 dir=/tmp/frames-$1x$2 out=/tmp/ws-video-$1x$2.txt line status
  modprobe v4l2loopback video_nr=3 card_label=kv-test-dongle exclusive_caps=1 max_buffers=4
  if ! guest-tools change-frames "$w" "$h" "$dir" >/tmp/frames.log 2>&1; then
    result "video-changes-$size-setup" FAIL "change-frames: $(excerpt /tmp/frames.log)"
    return 0
  fi
  ln -sf "$dir/still.jpg" "$dir/current.jpg"
  spawn feed guest-tools feed-link /dev/video3 $FPS "$dir/current.jpg"
  capturing() { capture_nodes | grep -qx /dev/video3; }
  if ! waitfor 10 grep -q 'first frame written' /tmp/feed.log || ! waitfor 10 capturing; then
    result "video-changes-$size-setup" FAIL "feeder did not start: $(excerpt /tmp/feed.log); capture nodes: $(capture_nodes)"
    stop feed
    modprobe -r v4l2loopback
    return 0
  fi
  if ! kv_start -d /dev/video3 -r "$size" -f $FPS -p $PORT; then
    result "video-changes-$size-setup" FAIL "kv did not start: $(excerpt /tmp/kv.log)"
    stop feed
    modprobe -r v4l2loopback
    return 0
  fi
  guest-tools ws-video-check "ws://127.0.0.1:$PORT/ws/video?quality=source" "$dir/current.jpg" 3 \
    "$dir/still.jpg" "$dir/changed.jpg" "$dir/different.jpg" >"$out" 2>&1
  status=$?
  grep -E '^(update|phase)' "$out" | sed "s/^/  $size /"
  if [ "$status" != 0 ]; then
    result "video-changes-$size-client" FAIL "ws-video-check exit $status: $(excerpt "$out" 3); kv: $(excerpt /tmp/kv.log 3)"
  fi

  line=$(grep '^phase first ' "$out")
  if [ "$(field "$line" exact)" = yes ] && [ "$(field "$line" kinds)" = 1x1 ]; then
    result "video-changes-$size-first-whole" PASS "$line"
  else
    result "video-changes-$size-first-whole" FAIL "expected one kind 1 decoding exactly to still.jpg; got: ${line:-no phase line}"
  fi

  line=$(grep '^phase still ' "$out")
  if [ -n "$line" ] && only_kinds "$line" 3 && [ "$(field "$line" bytes_per_s)" -lt 2048 ] &&
    [ "$(field "$line" exact)" = yes ]; then
    result "video-changes-$size-still-quiet" PASS "$line"
  else
    result "video-changes-$size-still-quiet" FAIL "expected only kind 3 (or nothing), < 2048 B/s, picture exact; got: ${line:-no phase line}"
  fi

  # The rectangle spans 4 MCU rows (4:2:2: 16x8 MCUs): a handful of spans.
  line=$(grep '^phase change1 ' "$out")
  if [ -n "$line" ] && only_kinds "$line" "2 3" && has_kind "$line" 2 && [ "$(field "$line" spans)" -le 8 ] &&
    [ "$(field "$line" undrawn)" = 0 ] && [ "$(field "$line" exact)" = yes ]; then
    result "video-changes-$size-small-change" PASS "$line"
  else
    result "video-changes-$size-small-change" FAIL "expected kind 2 (then 3) with <= 8 spans drawing every changed pixel, picture exactly changed.jpg; got: ${line:-no phase line}"
  fi

  line=$(grep '^phase change2 ' "$out")
  if [ -n "$line" ] && { has_kind "$line" 1 || has_kind "$line" 2; } && [ "$(field "$line" exact)" = yes ]; then
    result "video-changes-$size-new-frame" PASS "$line"
  else
    result "video-changes-$size-new-frame" FAIL "expected kind 1 or 2, picture exactly different.jpg; got: ${line:-no phase line}"
  fi

  kv_stop
  stop feed
  waitfor 10 modprobe -r v4l2loopback
}

run_size 1280 720
run_size 1366 768
