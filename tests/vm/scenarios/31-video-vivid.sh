# kv on vivid, a capture driver with raw formats only (no MJPEG): kv finds it without
# -d, encodes its YUYV frames to JPEG at the size asked with -r, and a resolution change
# through POST /api/video/mode keeps two viewers connected while the frames that follow
# have the new size. Every frame is fully decoded, as a browser would. Last, vivid's
# source changes under a viewer (a V4L2 event): kv follows it at once, without the 2 s
# of silence it would otherwise need (and that vivid, which keeps sending, never gives).

PORT=8080
URL=http://127.0.0.1:$PORT

status_json() { guest-tools http GET "$URL/api/status" 2>/dev/null | tail -n 1; }
summary() { grep '^stream-watch:' "$1" | tail -n 1; }
field() { status_json | grep -o "\"$1\":[^,]*" | head -n 1; }

modprobe vivid n_devs=1 node_types=0x1
if ! waitfor 5 test -n "$(capture_nodes)"; then
  result vivid-setup FAIL "vivid gave no capture node: $(ls /dev/video* 2>&1)"
  return 0
fi
if ! kv_start -r 640x480 -f 10 -p $PORT; then
  result vivid-setup FAIL "kv never answered: $(excerpt /tmp/kv.log)"
  return 0
fi
status=$(status_json)
if echo "$status" | grep -q '"format":"YUYV","width":640,"height":480'; then
  result vivid-discovered-raw PASS "$(field device) $(field format) 640x480, $(echo "$status" | grep -o '{"width":[0-9]*,"height":[0-9]*,"fps":[0-9]*}' | wc -l) modes"
else
  result vivid-discovered-raw FAIL "$(echo "$status" | cut -c1-200); $(excerpt /tmp/kv.log 2)"
fi

guest-tools stream-watch "$URL/stream" 60 --decode --frames 10 >/tmp/first.txt 2>&1
status=$?
line=$(summary /tmp/first.txt)
if [ "$status" = 0 ] && echo "$line" | grep -qE '; runs 640x480:10@[0-9.]+fps$'; then
  result vivid-stream-640x480 PASS "$line; kv: $(field fps) $(field fps_measured)"
else
  result vivid-stream-640x480 FAIL "exit $status: $line $(excerpt /tmp/first.txt 1)"
fi
if guest-tools snapshot "$URL/snapshot.jpg" >/tmp/snap.txt 2>&1 && grep -q 'snapshot: 640x480' /tmp/snap.txt; then
  result vivid-snapshot PASS "$(tail -n 1 /tmp/snap.txt)"
else
  result vivid-snapshot FAIL "$(excerpt /tmp/snap.txt 2)"
fi

# --- resolution change with two viewers watching --------------------------------------
for v in 1 2; do
  spawn viewer$v guest-tools stream-watch "$URL/stream" 120 --decode --runs 2
done
if ! waitfor 30 sh -c '[ "$(grep -c "^frame" /tmp/viewer1.log)" -ge 3 ] && [ "$(grep -c "^frame" /tmp/viewer2.log)" -ge 3 ]'; then
  result vivid-mode-viewers FAIL "viewers got no frames: $(excerpt /tmp/viewer1.log 1)"
fi
# The slowest 1280x720 rate vivid offers, to spare the emulated CPU.
mode=$(status_json | grep -o '{"width":1280,"height":720,"fps":[0-9]*}' | tail -n 1)
guest-tools http POST "$URL/api/video/mode" "$mode" >/tmp/mode.txt 2>&1
if head -n 1 /tmp/mode.txt | grep -q ' 200' && grep -q '"ok":true' /tmp/mode.txt; then
  result vivid-mode-api PASS "POST /api/video/mode $mode: $(tail -n 1 /tmp/mode.txt)"
else
  result vivid-mode-api FAIL "POST /api/video/mode '$mode': $(excerpt /tmp/mode.txt 2)"
fi
for v in 1 2; do
  pid=$(cat /tmp/kv-vm/pids/viewer$v)
  waitfor 90 sh -c "! kill -0 $pid"
  stop viewer$v
  line=$(summary /tmp/viewer$v.log)
  if [ "$STOP_STATUS" = 0 ] && echo "$line" | grep -qE '; runs 640x480:[0-9]+@[0-9.]+fps 1280x720:[0-9]+@[0-9.]+fps$'; then
    result vivid-mode-viewer$v-same-connection PASS "$line"
  else
    result vivid-mode-viewer$v-same-connection FAIL "exit $STOP_STATUS: $line $(excerpt /tmp/viewer$v.log 1)"
  fi
done
if status_json | grep -q '"width":1280,"height":720' &&
  guest-tools snapshot "$URL/snapshot.jpg" >/tmp/snap.txt 2>&1 && grep -q 'snapshot: 1280x720' /tmp/snap.txt; then
  result vivid-mode-status-and-snapshot PASS "status 1280x720; $(tail -n 1 /tmp/snap.txt)"
else
  result vivid-mode-status-and-snapshot FAIL "$(status_json | cut -c1-160) $(excerpt /tmp/snap.txt 1)"
fi

# --- a size asked for without fps, at which the current rate is not offered -------------
# docs/API.md: fps is optional; kv takes the rate offered there closest to the current one.
# From 640x480 at its fastest rate (vivid offers 1 fps at every size, not 25).
status_json | grep -o '{"width":[0-9]*,"height":[0-9]*,"fps":[0-9]*}' | tr -dc '0-9,\n' > /tmp/modes.txt
now_fps=$(awk -F, '$1 == 640 && $2 == 480 && $3 > m { m = $3 } END { print m + 0 }' /tmp/modes.txt)
guest-tools http POST "$URL/api/video/mode" "{\"width\":640,\"height\":480,\"fps\":$now_fps}" >/dev/null 2>&1
pick=$(awk -F, -v cur="$now_fps" '
  { size = $1 "x" $2; rates[size] = rates[size] " " $3; if ($3 == cur) has[size] = 1 }
  END { for (size in rates) if (!has[size]) { print size, rates[size]; exit } }' /tmp/modes.txt)
if [ -z "$pick" ]; then
  result vivid-mode-without-fps FAIL "every size vivid offers has ${now_fps} fps; modes: $(tr '\n' ' ' < /tmp/modes.txt | cut -c1-200)"
else
  size=${pick%% *} rates=${pick#* }
  want=$(echo $rates | tr ' ' '\n' | awk -v cur="$now_fps" '
    { d = $1 - cur; if (d < 0) d = -d; if (best == "" || d < bd || (d == bd && $1 > best)) { best = $1; bd = d } }
    END { print best }')
  guest-tools http POST "$URL/api/video/mode" "{\"width\":${size%x*},\"height\":${size#*x}}" >/tmp/mode2.txt 2>&1
  if head -n 1 /tmp/mode2.txt | grep -q ' 200' && status_json | grep -q "\"width\":${size%x*},\"height\":${size#*x},\"fps\":$want,"; then
    result vivid-mode-without-fps PASS "at ${now_fps} fps, asked $size (offers$rates fps): now ${size}@$want"
  else
    result vivid-mode-without-fps FAIL "at ${now_fps} fps, asked $size (offers$rates, want $want): $(excerpt /tmp/mode2.txt 2); $(status_json | cut -c1-160)"
  fi
fi

# --- a source change, reported by the driver ---------------------------------------------
# vivid raises V4L2_EVENT_SOURCE_CHANGE (RESOLUTION) on its webcam input when its
# Colorspace control changes, and goes on sending frames: kv notices only through the
# event (POLLPRI on the capture fd), and must restart capture well within the 2 s of
# silence that would otherwise be its only clue.
node=$(status_json | grep -o '"device":"[^"]*"' | cut -d'"' -f4)
spawn viewer3 guest-tools stream-watch "$URL/stream" 60 --decode
changes() { grep -c 'the source changed' /tmp/kv.log; }
if ! waitfor 30 grep -q '^frame' /tmp/viewer3.log; then
  result vivid-source-change-event FAIL "the viewer got no frames: $(excerpt /tmp/viewer3.log 1)"
else
  before=$(changes)
  frames=$(grep -c '^frame' /tmp/viewer3.log)
  # Timed from v4l2-ctl's exit: the C++ program alone takes about a second to start
  # in an emulated guest, and the event is raised by its last ioctl.
  start=$(uptime_s)
  v4l2-ctl -d "$node" --set-ctrl colorspace=1 >/tmp/ctrl.txt 2>&1
  set_in=$(elapsed_since "$start")
  start=$(uptime_s)
  if waitfor 5 sh -c "[ \$(grep -c 'the source changed' /tmp/kv.log) -gt $before ]"; then
    took=$(elapsed_since "$start")
  else
    took=never
  fi
  line=$(grep 'the source changed' /tmp/kv.log | tail -n 1)
  if [ "$took" != never ] && awk -v t="$took" 'BEGIN { exit !(t < 1.0) }' &&
    echo "$line" | grep -q 'restarting capture'; then
    result vivid-source-change-event PASS "noticed within ${took} s of v4l2-ctl --set-ctrl colorspace=1 on $node (which ran ${set_in} s): ${line#*] }"
  else
    result vivid-source-change-event FAIL "took ${took} s after v4l2-ctl (which ran ${set_in} s; $(changes) source changes logged, $before before); v4l2-ctl: $(excerpt /tmp/ctrl.txt 1); kv: $(excerpt /tmp/kv.log 3)"
  fi
  if waitfor 30 sh -c "[ \$(grep -c '^frame' /tmp/viewer3.log) -gt $((frames + 1)) ]"; then
    result vivid-source-change-same-connection PASS "$(grep -c '^frame' /tmp/viewer3.log) frames on one connection ($frames before the change)"
  else
    result vivid-source-change-same-connection FAIL "$frames frames before the change, $(grep -c '^frame' /tmp/viewer3.log) now: $(excerpt /tmp/viewer3.log 1)"
  fi
fi
stop viewer3
kv_stop
