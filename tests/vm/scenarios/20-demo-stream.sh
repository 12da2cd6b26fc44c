# kv --demo serves the simulated target's screen as an MJPEG stream with no hardware.

if kv_start --demo -p 8080; then
  result demo-listens PASS "$KV_URL"
  if guest-tools http GET "$KV_URL/api/status" >/tmp/status.txt 2>&1 &&
    head -n 1 /tmp/status.txt | grep -q ' 200' && grep -q '"demo":true' /tmp/status.txt; then
    result demo-status PASS "$(tail -n 1 /tmp/status.txt | cut -c1-120)"
  else
    result demo-status FAIL "$(excerpt /tmp/status.txt 2)"
  fi
  if guest-tools stream-read "$KV_URL/stream" 10 60 >/tmp/stream.txt 2>&1; then
    result demo-stream-10-frames PASS "$(tail -n 1 /tmp/stream.txt)"
  else
    result demo-stream-10-frames FAIL "$(excerpt /tmp/stream.txt 2)"
  fi
  kv_stop
else
  result demo-listens FAIL "kv --demo -p 8080 never answered: $(excerpt /tmp/kv.log)"
fi
