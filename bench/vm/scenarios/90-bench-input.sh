# WebSocket key message -> keyboard report written by kv, idle and while 20 viewers
# stream 1080p. kv writes the reports to a pty (bench-input reads the other end), so
# the figure is kv's own path plus loopback TCP, without USB polling (bench/vm-bench).
. /usr/lib/kv-bench/lib.sh
# The pty needs devpts, which /init does not mount.
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts || { result bench-input-devpts FAIL "cannot mount devpts"; return 0; }
feed_start 1080 || { umount /dev/pts; return 0; }
for load in 0 20; do
  spawn input guest-tools bench-input ws://127.0.0.1:8080/ws "$INPUT_COUNT" 10 "input viewers=$load"
  if ! waitfor 5 grep -q '^pty ' /tmp/input.log; then
    result "bench-input-$load" FAIL "$(excerpt /tmp/input.log)"
    continue
  fi
  pty=$(sed -n 's/^pty //p' /tmp/input.log)
  if ! server_start kv 1080 --hid-keyboard "$pty"; then
    result "bench-input-$load" FAIL "kv: $(excerpt /tmp/kv.log)"
    stop input
    continue
  fi
  if [ "$load" -gt 0 ]; then
    spawn load guest-tools bench-viewers "$STREAM_URL" "$SERVER_PID" "$((INPUT_COUNT / 50 + 8))" "$load" \
      --label "input-load server=kv res=1080"
  fi
  if waitfor $((INPUT_COUNT / 20 + 40)) grep -q '^BENCH' /tmp/input.log; then
    grep '^BENCH' /tmp/input.log
    echo "BENCH input-rss viewers=$load $(rss_fields "$SERVER_PID")"
    result "bench-input-$load" PASS "$(grep '^BENCH' /tmp/input.log)"
  else
    result "bench-input-$load" FAIL "$(excerpt /tmp/input.log)"
  fi
  stop input
  [ "$load" -gt 0 ] && { waitfor 30 grep -q '^BENCH' /tmp/load.log; grep '^BENCH' /tmp/load.log; stop load; }
  server_stop kv
done
feed_stop
umount /dev/pts
