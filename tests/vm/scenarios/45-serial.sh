# kv --gadget --serial on dummy_hcd: the gadget's CDC ACM port (usb_f_acm, u_serial) is
# enumerated by the same kernel's cdc_acm as /dev/ttyACM0, the target's end. What a client
# sends on /ws/serial arrives there; a shell run on it answers through /ws/serial; kv's
# tty survives the target closing and reopening its end and the gadget leaving and coming
# back to its controller (u_serial hangs the tty up: kv opens it again); no oops.

CFS=/sys/kernel/config/usb_gadget

modprobe -a usb_f_acm cdc_acm 2>/tmp/modprobe.err || result serial-modules FAIL "$(cat /tmp/modprobe.err)"
modprobe v4l2loopback video_nr=3 exclusive_caps=1 max_buffers=4
spawn feed guest-tools mjpeg-feed /dev/video3 320 240 5
waitfor 10 grep -q 'first frame written' /tmp/feed.log

if ! kv_start --gadget --serial -d /dev/video3 -p 8080; then
  result serial-start FAIL "kv did not start: $(excerpt /tmp/kv.log 5)"
  stop feed
  return 0
fi
WS_SERIAL=ws://127.0.0.1:$KV_PORT/ws/serial
if [ -d "$CFS/kv/functions/acm.usb0" ] && waitfor 20 test -c /dev/ttyACM0 &&
  waitfor 5 grep -q 'Serial console on /dev/ttyGS' /tmp/kv.log; then
  result serial-enumerated PASS "port_num $(cat "$CFS/kv/functions/acm.usb0/port_num"); host /dev/ttyACM0 by $(basename "$(readlink /sys/class/tty/ttyACM0/device/driver)"); $(grep -o 'Serial console on [^ ]*' /tmp/kv.log)"
else
  result serial-enumerated FAIL "functions: $(ls "$CFS/kv/functions" | tr '\n' ' '); ttys: $(ls /dev | grep -E 'ttyACM|ttyGS' | tr '\n' ' '); kv: $(excerpt /tmp/kv.log 4)"
  kv_stop
  stop feed
  return 0
fi

# serial_to_target NAME TEXT : TEXT sent on /ws/serial arrives on the target's /dev/ttyACM0.
serial_to_target() {
  spawn "$1" guest-tools tty-read /dev/ttyACM0 30
  waitfor 5 grep -q listening "/tmp/$1.log"
  guest-tools ws-serial "$WS_SERIAL" 5 - "$2\r" > "/tmp/$1-ws.log" 2>&1
  if waitfor 10 sh -c "tr -d '\n' < /tmp/$1.log | sed 's/read //g' | grep -q '$2'"; then
    result "$1" PASS "$(grep -m1 "$2" "/tmp/$1.log")"
  else
    result "$1" FAIL "target read: $(excerpt "/tmp/$1.log" 3); client: $(excerpt "/tmp/$1-ws.log" 2); kv: $(excerpt /tmp/kv.log 3)"
  fi
  stop "$1"
}
serial_to_target serial-to-target kv-hello-target

# A shell on the target's end: the answer is computed there, so it is not kv's echo.
spawn tshell setsid sh -c 'exec sh -i <>/dev/ttyACM0 >&0 2>&0'
if guest-tools ws-serial "$WS_SERIAL" 20 kv-42 'echo kv-$((6*7))\r' > /tmp/ws-shell.log 2>&1; then
  result serial-shell-answers PASS "$(grep -o 'output .*' /tmp/ws-shell.log | tail -c 120)"
else
  result serial-shell-answers FAIL "$(excerpt /tmp/ws-shell.log 3); shell: $(excerpt /tmp/tshell.log 2); kv: $(excerpt /tmp/kv.log 3)"
fi
# A second viewer connecting later sees the answer in the scrollback.
if guest-tools ws-serial "$WS_SERIAL" 10 kv-42 > /tmp/ws-late.log 2>&1; then
  result serial-scrollback PASS "a later client got kv-42 from the scrollback"
else
  result serial-scrollback FAIL "$(excerpt /tmp/ws-late.log 2)"
fi
stop tshell

# The target closed its end (the shell is gone); it opens it again and still hears kv.
serial_to_target serial-target-reopened kv-after-reopen

# The gadget leaves its controller and comes back: the host's ttyACM0 goes and returns,
# u_serial hangs kv's tty up, and kv opens it again.
UDC_NAME=$(cat "$CFS/kv/UDC")
echo "" > "$CFS/kv/UDC"
waitfor 10 sh -c '! test -e /dev/ttyACM0'
echo "$UDC_NAME" > "$CFS/kv/UDC"
if waitfor 20 test -c /dev/ttyACM0; then
  serial_to_target serial-after-rebind kv-after-rebind
else
  result serial-after-rebind FAIL "no /dev/ttyACM0 after the rebind; kv: $(excerpt /tmp/kv.log 3)"
fi
status=$(guest-tools http GET "$KV_URL/api/status" 2>&1 | tail -n 1 | grep -o '"serial":{[^}]*}')
case $status in
  *'"open":true'*) result serial-status PASS "$status" ;;
  *) result serial-status FAIL "status: $status" ;;
esac

kv_stop
oops=$(dmesg | grep -E -m1 'BUG|Oops|corruption|soft lockup|WARNING' || true)
if [ "$STOP_STATUS" = 0 ] && [ ! -e "$CFS/kv" ] && [ -z "$oops" ]; then
  result serial-stop-clean PASS "exit 0, gadget removed, no oops"
else
  result serial-stop-clean FAIL "exit $STOP_STATUS; gadgets: $(ls $CFS | tr '\n' ' '); oops: ${oops:-none}; kv: $(excerpt /tmp/kv.log 3)"
fi
stop feed
