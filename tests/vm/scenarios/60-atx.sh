# ATX power control on real GPIO lines: kv_vm_gpio (tests/vm/gpio-module) is a GPIO chip
# whose lines this script reads and sets, with edge interrupts, through the kernel's
# own gpiolib and GPIO character device. kv holds four of its lines, some by name and
# some as gpiochipN:OFFSET, one active-low: a short and a long press and a reset appear
# on the output lines for the configured durations (measured by the module's
# CLOCK_MONOTONIC stamps of each change); a press is refused while one runs; the power
# LED's edge shows in /api/status within 100 ms (measured in the guest: the module's
# stamp of the edge against the time the first answer showing it came back); the HDD
# LED's blinking shows as activity; a second kv asking for a held line is refused,
# naming the holder.

GPIO=/sys/module/kv_vm_gpio/parameters
SHORT=300
LONG=2000
# How much later than configured a press may end: kv ends it on a loop timer and TCG
# guests' timers run late under load (measured: see the RESULT lines' detail).
SLACK=250

if ! modprobe kv_vm_gpio 2>/tmp/modprobe.err; then
  result atx-module FAIL "modprobe kv_vm_gpio: $(cat /tmp/modprobe.err)"
  return 0
fi
# The module's chip has no parent device, so it sits at /sys/devices/gpiochipN (an ARM
# guest's own pl061 sits under its platform device).
CHIP=""
for d in /sys/bus/gpio/devices/gpiochip*; do
  case $(readlink -f "$d") in /sys/devices/gpiochip*) CHIP=${d##*/} ;; esac
done
if [ -z "$CHIP" ] || [ ! -e "/dev/$CHIP" ]; then
  result atx-module FAIL "no kv_vm_gpio chip: $(for d in /sys/bus/gpio/devices/*; do readlink -f "$d"; done | tr '\n' ' ')"
  return 0
fi
result atx-module PASS "kv_vm_gpio is /dev/$CHIP"

if ! kv_start --demo -p 3000 --atx-power kv-line-0 --atx-reset "$CHIP:1" \
    --atx-power-led kv-line-2 --atx-hdd-led "$CHIP:3" --atx-active-low reset \
    --atx-short-press $SHORT --atx-long-press $LONG; then
  result atx-start FAIL "kv did not start: $(excerpt /tmp/kv.log 5)"
  return 0
fi
result atx-start PASS "$(sed -n 's/.*\(ATX: .*\)/\1/p' /tmp/kv.log)"

status() { guest-tools http GET "$KV_URL/api/status" 2>&1 | tail -n 1; }
atx() { guest-tools http POST "$KV_URL/api/atx" "{\"action\":\"$1\"}" > /tmp/atx.log 2>&1; head -n 1 /tmp/atx.log; }
idle() { status | grep -q '"pressing":null'; }

# held OFFSET ACTIVE : ms between the line going to level ACTIVE and back, from the
# module's history (emptied before each press).
held() {
  awk -v o="$1" -v a="$2" '$1 == o && $2 == a && !on { on = $3 }
                           $1 == o && $2 != a && on { printf "%d", ($3 - on) / 1000000; exit }' "$GPIO/history"
}
# press NAME ACTION OFFSET ACTIVE WANT : one press, its length checked against WANT ms.
press() {
  local line ms
  echo clear > "$GPIO/history"
  line=$(atx "$2")
  if ! echo "$line" | grep -q ' 200 '; then
    result "$1" FAIL "POST /api/atx $2: $line $(tail -n 1 /tmp/atx.log)"
    return
  fi
  if ! waitfor 20 idle; then
    result "$1" FAIL "still pressing after 20 s: $(status)"
    return
  fi
  ms=$(held "$3" "$4")
  if [ -n "$ms" ] && [ "$ms" -ge $(($5 - 5)) ] && [ "$ms" -le $(($5 + SLACK)) ]; then
    result "$1" PASS "line $3 held $ms ms (configured $5 ms, allowed -5/+$SLACK)"
  else
    result "$1" FAIL "line $3 held '${ms}' ms, configured $5 ms; history: $(tr '\n' ' ' < "$GPIO/history")"
  fi
}

if status | grep -q '"atx":{"power_led":false,"hdd_led":false,"pressing":null,"power":true,"reset":true}'; then
  result atx-status PASS "$(status | grep -o '"atx":{[^}]*}')"
else
  result atx-status FAIL "$(status)"
fi

press atx-short-press power 0 1 $SHORT

# A long press, and a second press while it runs: refused with 409, nothing changed.
echo clear > "$GPIO/history"
line=$(atx power_long)
busy=$(atx power)
if echo "$busy" | grep -q ' 409 ' && grep -q 'still running' /tmp/atx.log; then
  result atx-busy-refused PASS "$busy: $(tail -n 1 /tmp/atx.log)"
else
  result atx-busy-refused FAIL "second press during the long one: $busy $(tail -n 1 /tmp/atx.log)"
fi
if echo "$line" | grep -q ' 200 ' && waitfor 20 idle; then
  ms=$(held 0 1)
  if [ -n "$ms" ] && [ "$ms" -ge $((LONG - 5)) ] && [ "$ms" -le $((LONG + SLACK)) ]; then
    result atx-long-press PASS "line 0 held $ms ms (configured $LONG ms, allowed -5/+$SLACK), one press only: $(grep -c '^0 ' "$GPIO/history") changes"
  else
    result atx-long-press FAIL "line 0 held '${ms}' ms; history: $(tr '\n' ' ' < "$GPIO/history")"
  fi
else
  result atx-long-press FAIL "POST power_long: $line; $(status)"
fi

# Reset is active-low: its line idles high and goes low while pressed.
press atx-reset-active-low reset 1 0 $SHORT

# The power LED: a poller asks /api/status over and over; once it polls, the LED's line
# rises; the delay is from the module's stamp of the edge to the first answer showing it.
echo clear > "$GPIO/history"
spawn poll guest-tools http-until "$KV_URL/api/status" '"power_led":true' 20
if ! waitfor 20 grep -q polling /tmp/poll.log; then
  result atx-power-led FAIL "the poller never polled: $(excerpt /tmp/poll.log)"
else
  echo "2 1" > "$GPIO/level"
  if waitfor 25 grep -q 'seen at' /tmp/poll.log; then
    seen=$(sed -n 's/^seen at \([0-9]*\).*/\1/p' /tmp/poll.log)
    missed=$(sed -n 's/.*without it sent at \([0-9]*\).*/\1/p' /tmp/poll.log)
    edge=$(awk '$1 == 2 && $2 == 1 { print int($3 / 1000); exit }' "$GPIO/history")
    ms=$(( (seen - edge) / 1000 ))
    # At most: the edge to the first answer showing it; the last request without it
    # was sent this long after the edge (a lower bound).
    detail="$(sed -n 's/.*after \([0-9]* requests\).*/\1/p' /tmp/poll.log), the last miss sent $(( (missed - edge) / 1000 )) ms after the edge"
    if [ "$ms" -lt 100 ]; then
      result atx-power-led PASS "edge to /api/status in at most $ms ms ($detail)"
    else
      result atx-power-led FAIL "edge to /api/status took up to $ms ms (limit 100; $detail)"
    fi
  else
    result atx-power-led FAIL "/api/status never showed the LED on: $(excerpt /tmp/poll.log) $(status)"
  fi
fi
stop poll

# The HDD LED blinking: activity while it blinks, none a while after.
for i in 1 2 3 4 5 6 7 8 9 10; do echo "3 1" > "$GPIO/level"; echo "3 0" > "$GPIO/level"; done
if waitfor 5 sh -c "guest-tools http GET $KV_URL/api/status | grep -q '\"hdd_led\":true'"; then
  if waitfor 5 sh -c "guest-tools http GET $KV_URL/api/status | grep -q '\"hdd_led\":false'"; then
    result atx-hdd-activity PASS "10 blinks: activity shown, then none"
  else
    result atx-hdd-activity FAIL "activity never ended: $(status)"
  fi
else
  result atx-hdd-activity FAIL "10 blinks never showed: $(status)"
fi

# A second kv wanting a held line is refused at start, naming who holds it.
timeout 20 kv --demo -p 3001 --atx-power kv-line-0 > /tmp/kv2.log 2>&1
code=$?
if [ "$code" != 0 ] && [ "$code" != 124 ] && grep -q 'in use by "kv-atx"' /tmp/kv2.log; then
  result atx-busy-line PASS "exit $code: $(excerpt /tmp/kv2.log 1)"
else
  result atx-busy-line FAIL "exit $code: $(excerpt /tmp/kv2.log)"
fi
# And a line that is not there says where it looked.
timeout 20 kv --demo -p 3001 --atx-power no-such-line > /tmp/kv2.log 2>&1
if [ $? != 0 ] && grep -q "no GPIO line has that name on .*$CHIP" /tmp/kv2.log; then
  result atx-no-line PASS "$(excerpt /tmp/kv2.log 1)"
else
  result atx-no-line FAIL "$(excerpt /tmp/kv2.log)"
fi
kv_stop
