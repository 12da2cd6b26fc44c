# Without --demo, kv needs a capture device: with none it must exit non-zero and say
# how to run without hardware (--demo), not sit there serving nothing.

# refuses NAME : run kv with no flags for at most 10 s and expect a refusal naming --demo.
refuses() {
  timeout 10 kv -p 3001 >/tmp/refuse.log 2>&1
  status=$?
  if [ "$status" = 0 ]; then
    result "$1" FAIL "kv exited 0: $(excerpt /tmp/refuse.log)"
  elif [ "$status" = 124 ] || [ "$status" = 143 ]; then
    result "$1" FAIL "kv was still running after 10 s: $(excerpt /tmp/refuse.log)"
  elif grep -q -- --demo /tmp/refuse.log; then
    result "$1" PASS "exit $status: $(excerpt /tmp/refuse.log 1)"
  else
    result "$1" FAIL "exit $status but the message does not mention --demo: $(excerpt /tmp/refuse.log)"
  fi
}

if ls /dev/video* >/dev/null 2>&1; then
  result refuse-no-video-nodes FAIL "precondition: video nodes exist: $(ls /dev/video*)"
else
  refuses refuse-no-video-nodes
fi

# Nodes that exist but cannot capture: a v4l2loopback device nobody writes to (with
# exclusive_caps=1 it offers only video output) and a vivid instance with only an
# output node (node_types bit 8).
modprobe v4l2loopback video_nr=5 exclusive_caps=1
modprobe vivid n_devs=1 node_types=0x100
if ! waitfor 5 test -e /dev/video5; then
  result refuse-output-only-nodes FAIL "precondition: /dev/video5 did not appear; nodes: $(ls /dev/video* 2>&1); dmesg: $(dmesg | tail -n 4 | tr '\n' ' ')"
elif [ -n "$(capture_nodes)" ]; then
  result refuse-output-only-nodes FAIL "precondition: capture nodes exist: $(capture_nodes | tr '\n' ' ')"
else
  refuses refuse-output-only-nodes
fi
