# kv --gadget on dummy_hcd: kv creates its own configfs gadget (replacing a stale one of
# its name), the same kernel's usbhid enumerates it, and what a client sends over /ws
# arrives on the host-side evdev nodes exactly. The host's Caps Lock shows in kv's
# status; SIGTERM removes kv's gadget and only kv's.

CFS=/sys/kernel/config/usb_gadget
OTHER=$CFS/kv-test-other

# Another gadget on the board (unbound: dummy_hcd has one controller) that must survive.
mkdir "$OTHER" && mkdir "$OTHER/strings/0x409" "$OTHER/configs/c.1" "$OTHER/functions/hid.other" &&
  echo 0x1234 > "$OTHER/idVendor" && ln -s "$OTHER/functions/hid.other" "$OTHER/configs/c.1/" ||
  result gadget-other-setup FAIL "cannot create $OTHER"
# What a killed kv leaves behind: a gadget of kv's name with a function kv no longer makes.
mkdir "$CFS/kv" && mkdir "$CFS/kv/configs/c.1" "$CFS/kv/functions/hid.stale" &&
  ln -s "$CFS/kv/functions/hid.stale" "$CFS/kv/configs/c.1/" ||
  result gadget-stale-setup FAIL "cannot create a stale $CFS/kv"

cleanup_other() {
  rm -f "$OTHER/configs/c.1/hid.other"
  rmdir "$OTHER/configs/c.1" "$OTHER/functions/hid.other" "$OTHER/strings/0x409" "$OTHER" 2>/dev/null
}

modprobe v4l2loopback video_nr=3 exclusive_caps=1 max_buffers=4
spawn feed guest-tools mjpeg-feed /dev/video3 320 240 5
waitfor 10 grep -q 'first frame written' /tmp/feed.log

if ! kv_start --gadget -d /dev/video3 -p 8080; then
  result gadget-start FAIL "kv did not start: $(excerpt /tmp/kv.log 5)"
  cleanup_other
  return 0
fi
WS_URL=ws://127.0.0.1:$KV_PORT/ws
result gadget-start PASS "$(grep -m1 'bound to' /tmp/kv.log)"

if [ ! -e "$CFS/kv/functions/hid.stale" ] && [ -d "$CFS/kv/functions/hid.keyboard" ]; then
  result gadget-stale-replaced PASS "$(ls "$CFS/kv/functions" | tr '\n' ' ')"
else
  result gadget-stale-replaced FAIL "functions: $(ls "$CFS/kv/functions" | tr '\n' ' ')"
fi

# What the host is told: ids, boot keyboard, remote wakeup; no_out_endpoint where the kernel has it.
kbdf=$CFS/kv/functions/hid.keyboard
attrs="$(cat "$CFS/kv/idVendor"):$(cat "$CFS/kv/idProduct") $(cat "$kbdf/protocol")/$(cat "$kbdf/subclass")/$(cat "$kbdf/report_length") no_out_endpoint=$(cat "$kbdf/no_out_endpoint" 2>/dev/null || echo absent) bmAttributes=$(cat "$CFS/kv/configs/c.1/bmAttributes")"
case $attrs in
  "0x1d6b:0x0104 1/1/8 no_out_endpoint=1 bmAttributes=0xa0" | "0x1d6b:0x0104 1/1/8 no_out_endpoint=absent bmAttributes=0xa0")
    result gadget-attributes PASS "$attrs serial=$(cat "$CFS/kv/strings/0x409/serialnumber")" ;;
  *) result gadget-attributes FAIL "$attrs" ;;
esac

# evdev_with led|abs|rel : the host-side event node of kv's keyboard (has LEDs), absolute
# mouse (has ABS axes) or relative mouse (REL axes only).
evdev_with() {
  local e d led abs rel
  for e in /sys/class/input/event*; do
    d=$e/device
    case "$(cat "$d/phys" 2>/dev/null)" in *dummy_hcd*) ;; *) continue ;; esac
    led=$(cat "$d/capabilities/led") abs=$(cat "$d/capabilities/abs") rel=$(cat "$d/capabilities/rel")
    case $1 in
      led) [ "$led" != 0 ] ;;
      abs) [ "$abs" != 0 ] ;;
      rel) [ "$abs" = 0 ] && [ "$led" = 0 ] && [ "$rel" != 0 ] ;;
    esac && { echo "/dev/input/${e##*/}"; return 0; }
  done
  return 1
}

if waitfor 20 evdev_with led && waitfor 5 evdev_with abs && waitfor 5 evdev_with rel; then
  KBD=$(evdev_with led) ABS=$(evdev_with abs) REL=$(evdev_with rel)
  result gadget-enumerated PASS "keyboard $KBD, absolute mouse $ABS, relative mouse $REL"
else
  result gadget-enumerated FAIL "host side: $(cat /proc/bus/input/devices | grep -E 'N: Name|P: Phys' | tr '\n' ' ')"
  kv_stop
  cleanup_other
  return 0
fi

status() { guest-tools http GET "$KV_URL/api/status" 2>&1 | tail -n 1; }
if waitfor 10 sh -c "guest-tools http GET $KV_URL/api/status | grep -q '\"udc\":\"configured\"'"; then
  result gadget-udc-configured PASS "$(status | grep -o '"hid":{[^}]*')"
else
  result gadget-udc-configured FAIL "$(status)"
fi

# --- keyboard: every message's press/release, in order ------------------------------
MSGS="" EXPECT=""
key() { # CODE LINUX_KEY 1|0
  local down=false
  [ "$3" = 1 ] && down=true
  MSGS="$MSGS {\"type\":\"key\",\"code\":\"$1\",\"down\":$down}"
  EXPECT="$EXPECT $2:$3"
}
tap() { key "$1" "$2" 1; key "$1" "$2" 0; }
# letters, digits, punctuation
for pair in KeyA:30 KeyZ:44 KeyQ:16 KeyM:50 Digit1:2 Digit5:6 Digit0:11 Minus:12 Equal:13 \
  BracketLeft:26 BracketRight:27 Backslash:43 Semicolon:39 Quote:40 Backquote:41 Comma:51 \
  Period:52 Slash:53 Space:57 Enter:28 Tab:15 Backspace:14 Escape:1; do
  tap "${pair%:*}" "${pair#*:}"
done
# every modifier alone, then in combinations (never Ctrl+Alt+Delete: the guest reboots)
for pair in ShiftLeft:42 ShiftRight:54 ControlLeft:29 ControlRight:97 AltLeft:56 AltRight:100 \
  MetaLeft:125 MetaRight:126; do
  tap "${pair%:*}" "${pair#*:}"
done
key ShiftLeft 42 1; tap KeyA 30; key ShiftLeft 42 0
key ControlLeft 29 1; key ShiftRight 54 1; tap KeyZ 44; key ShiftRight 54 0; key ControlLeft 29 0
key AltRight 100 1; tap KeyQ 16; key AltRight 100 0
key MetaLeft 125 1; key AltLeft 56 1; tap KeyM 50; key AltLeft 56 0; key MetaLeft 125 0
# held keys stay held while others come and go
key KeyA 30 1; key KeyZ 44 1; key KeyA 30 0; tap Digit1 2; key KeyZ 44 0
# F1-F24
for n in 1 2 3 4 5 6 7 8 9 10; do tap "F$n" $((58 + n)); done
tap F11 87; tap F12 88
for n in 13 14 15 16 17 18 19 20 21 22 23 24; do tap "F$n" $((170 + n)); done
# keypad, arrows, navigation, international keys
for pair in Numpad0:82 Numpad1:79 Numpad2:80 Numpad3:81 Numpad4:75 Numpad5:76 Numpad6:77 \
  Numpad7:71 Numpad8:72 Numpad9:73 NumpadDecimal:83 NumpadEnter:96 NumpadAdd:78 \
  NumpadSubtract:74 NumpadMultiply:55 NumpadDivide:98 ArrowUp:103 ArrowDown:108 \
  ArrowLeft:105 ArrowRight:106 Home:102 End:107 PageUp:104 PageDown:109 Insert:110 \
  Delete:111 IntlBackslash:86 IntlRo:89 IntlYen:124 Lang1:122 Lang2:123; do
  tap "${pair%:*}" "${pair#*:}"
done

spawn kbd guest-tools evdev-read "$KBD" 120
waitfor 5 grep -q listening /tmp/kbd.log
# Sent back to back, faster than the host polls: kv queues what the host has not
# taken yet, so every press and release still arrives, in order.
# shellcheck disable=SC2086 # one argument per message
guest-tools ws-send "$WS_URL" $MSGS > /tmp/ws-keys.log 2>&1
wanted=$(echo $EXPECT | wc -w)
seen_keys() { grep '^EV_KEY' /tmp/kbd.log | grep -v ' 2$' | awk '{ printf " %s:%s", $2, $3 }'; }
waitfor 10 sh -c "[ \$(grep '^EV_KEY' /tmp/kbd.log | grep -vc ' 2\$') -ge $wanted ]"
seen=$(seen_keys)
if [ "$(echo $seen)" = "$(echo $EXPECT)" ]; then
  result gadget-keyboard-sequence PASS "$wanted press/release events in order"
else
  # the first difference, for debugging
  diff=$(echo $EXPECT | tr ' ' '\n' > /tmp/want.txt; echo $seen | tr ' ' '\n' > /tmp/seen.txt
    diff /tmp/want.txt /tmp/seen.txt | head -n 8 | tr '\n' ' ')
  result gadget-keyboard-sequence FAIL "wanted $wanted, saw $(echo $seen | wc -w): $diff; ws: $(excerpt /tmp/ws-keys.log 2); kv: $(excerpt /tmp/kv.log 6)"
fi

# --- the host's Caps Lock LED shows in kv's status ------------------------------------
guest-tools evdev-write "$KBD" EV_LED 1 1 > /tmp/led.log 2>&1
if waitfor 10 sh -c "guest-tools http GET $KV_URL/api/status | grep -q '\"caps\":true'"; then
  result gadget-caps-lock PASS "$(status | grep -o '"leds":{[^}]*}')"
else
  result gadget-caps-lock FAIL "$(excerpt /tmp/led.log 1); status: $(status | grep -o '"hid":{[^}]*}')"
fi
stop kbd

# --- absolute mouse: corners and centre, buttons, wheel ----------------------------------
spawn abs guest-tools evdev-read "$ABS" 60
waitfor 5 grep -q listening /tmp/abs.log
abs() { echo "{\"type\":\"abs\",\"x\":$1,\"y\":$2,\"buttons\":${3:-0}}"; }
guest-tools ws-send --gap 40 "$WS_URL" "$(abs 16384 16384)" "$(abs 0 0)" "$(abs 32767 0)" \
  "$(abs 32767 32767)" "$(abs 0 32767)" "$(abs 16384 16384)" "$(abs 16384 16384 1)" \
  "$(abs 16384 16384 0)" "$(abs 16384 16384 2)" "$(abs 16384 16384 0)" \
  '{"type":"wheel","dx":0,"dy":1}' '{"type":"wheel","dx":1,"dy":0}' > /tmp/ws-abs.log 2>&1
# Only changed axes are reported: centre, (0,0), then X, Y, X, and centre again.
want_abs=" 0:16384 1:16384 0:0 1:0 0:32767 1:32767 0:0 0:16384 1:16384"
waitfor 5 sh -c "[ \$(grep -c '^EV_ABS' /tmp/abs.log) -ge 9 ]"
seen_abs=$(grep '^EV_ABS' /tmp/abs.log | awk '{ printf " %s:%s", $2, $3 }')
if [ "$seen_abs" = "$want_abs" ]; then
  result gadget-mouse-absolute PASS "ABS_X/ABS_Y:$seen_abs"
else
  result gadget-mouse-absolute FAIL "wanted$want_abs, saw$seen_abs"
fi
seen_buttons=$(grep '^EV_KEY' /tmp/abs.log | awk '{ printf " %s:%s", $2, $3 }')
if [ "$seen_buttons" = " 272:1 272:0 273:1 273:0" ]; then
  result gadget-mouse-buttons PASS "BTN_LEFT, BTN_RIGHT:$seen_buttons"
else
  result gadget-mouse-buttons FAIL "saw$seen_buttons"
fi
# REL_WHEEL 8, REL_HWHEEL 6 (hi-res twins 11 and 12 may come too)
if grep -q '^EV_REL 8 1$' /tmp/abs.log && grep -q '^EV_REL 6 1$' /tmp/abs.log; then
  result gadget-mouse-wheel PASS "$(grep '^EV_REL' /tmp/abs.log | tr '\n' ' ')"
else
  result gadget-mouse-wheel FAIL "saw: $(grep '^EV_REL' /tmp/abs.log | tr '\n' ' ')"
fi
stop abs

# --- relative mouse: a big move arrives whole, split into steps -------------------------
spawn rel guest-tools evdev-read "$REL" 60
waitfor 5 grep -q listening /tmp/rel.log
guest-tools ws-send --gap 40 "$WS_URL" '{"type":"rel","dx":1000,"dy":-300,"buttons":0}' \
  > /tmp/ws-rel.log 2>&1
sum_rel() { grep "^EV_REL $1 " /tmp/rel.log | awk '{ s += $3 } END { print s + 0 }'; }
waitfor 5 sh -c "[ \$(grep '^EV_REL 0 ' /tmp/rel.log | awk '{ s += \$3 } END { print s + 0 }') -ge 1000 ]"
x=$(sum_rel 0) y=$(sum_rel 1) steps=$(grep -c '^EV_REL 0 ' /tmp/rel.log)
if [ "$x" = 1000 ] && [ "$y" = -300 ]; then
  result gadget-mouse-relative PASS "REL_X sums to $x in $steps events, REL_Y to $y"
else
  result gadget-mouse-relative FAIL "REL_X sum $x, REL_Y sum $y: $(excerpt /tmp/rel.log 4)"
fi
stop rel

# --- SIGTERM: kv's gadget leaves the host and configfs; the other gadget stays ------------
kv_stop
if [ "$STOP_STATUS" = 0 ] && [ ! -e "$CFS/kv" ] && [ -d "$OTHER/functions/hid.other" ] &&
  waitfor 5 sh -c '! grep -q dummy_hcd /proc/bus/input/devices'; then
  result gadget-sigterm-removes PASS "exit 0, $CFS/kv gone, $OTHER kept, host side gone"
else
  result gadget-sigterm-removes FAIL "exit $STOP_STATUS; gadgets: $(ls $CFS | tr '\n' ' '); kv: $(excerpt /tmp/kv.log 3)"
fi
cleanup_other
stop feed
