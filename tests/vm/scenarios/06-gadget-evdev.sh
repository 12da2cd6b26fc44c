# The USB path HID scenarios build on, without kv: a configfs keyboard gadget on
# dummy_hcd, enumerated by the same kernel, and guest-tools evdev-read on the host side.

G=/sys/kernel/config/usb_gadget/kv-vm-selftest
udc=$(ls /sys/class/udc | head -n 1)
mkdir "$G" && cd "$G" || { result gadget-evdev-setup FAIL "cannot create $G"; return 0; }
echo 0x1d6b > idVendor                 # Linux Foundation
echo 0x0104 > idProduct                # Multifunction Composite Gadget
mkdir strings/0x409 configs/c.1 functions/hid.kbd
echo "kv-vm selftest" > strings/0x409/product
echo 1 > functions/hid.kbd/protocol    # boot keyboard
echo 1 > functions/hid.kbd/subclass
echo 8 > functions/hid.kbd/report_length
# HID boot keyboard report descriptor: modifiers, reserved byte, LED output, 6 key slots.
printf '\x05\x01\x09\x06\xa1\x01\x05\x07\x19\xe0\x29\xe7\x15\x00\x25\x01\x75\x01\x95\x08\x81\x02\x95\x01\x75\x08\x81\x03\x95\x05\x75\x01\x05\x08\x19\x01\x29\x05\x91\x02\x95\x01\x75\x03\x91\x03\x95\x06\x75\x08\x15\x00\x25\x65\x05\x07\x19\x00\x29\x65\x81\x00\xc0' \
  > functions/hid.kbd/report_desc
ln -s functions/hid.kbd configs/c.1/
echo "$udc" > UDC
cd /

host_evdev() {
  for e in /sys/class/input/event*; do
    case "$(cat "$e/device/phys" 2>/dev/null)" in *dummy_hcd*) echo "/dev/input/${e##*/}"; return 0 ;; esac
  done
  return 1
}
if waitfor 15 host_evdev; then
  ev=$(host_evdev)
  spawn evdev guest-tools evdev-read "$ev" 5
  waitfor 5 grep -q listening /tmp/evdev.log
  printf '\x02\x00\x04\x00\x00\x00\x00\x00' > /dev/hidg0   # Shift + a (usage 0x04)
  printf '\x00\x00\x00\x00\x00\x00\x00\x00' > /dev/hidg0
  if waitfor 5 grep -q 'EV_KEY 30 0' /tmp/evdev.log && grep -q 'EV_KEY 42 1' /tmp/evdev.log; then
    result gadget-evdev-keyboard PASS "hidg0 Shift+a -> $ev: $(grep EV_KEY /tmp/evdev.log | tr '\n' ' ')"
  else
    result gadget-evdev-keyboard FAIL "$ev saw: $(excerpt /tmp/evdev.log 6)"
  fi
  stop evdev
else
  result gadget-evdev-keyboard FAIL "no dummy_hcd input device appeared; $(dmesg | tail -n 3 | tr '\n' ' ')"
fi

echo "" > "$G/UDC"
rm "$G/configs/c.1/hid.kbd"
rmdir "$G/configs/c.1" "$G/functions/hid.kbd" "$G/strings/0x409" "$G"
