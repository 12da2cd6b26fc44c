# Smoke: the guest kernel's drivers load and the static kv binary runs at all.

# Loaded by /init for every scenario (built-in counts too).
missing=""
for m in dummy_hcd libcomposite usb_f_hid usb_f_mass_storage usb_f_ecm usbhid hid_generic evdev usb_storage; do
  [ -d "/sys/module/$m" ] || missing="$missing $m"
done
if [ -z "$missing" ]; then
  result smoke-base-modules PASS "gadget stack and USB host drivers present"
else
  result smoke-base-modules FAIL "not loaded:$missing"
fi

udc=$(ls /sys/class/udc 2>/dev/null | head -n 1)
if [ -n "$udc" ]; then
  result smoke-udc PASS "$udc"
else
  result smoke-udc FAIL "dummy_hcd gave no UDC in /sys/class/udc; dmesg: $(dmesg | tail -n 4 | tr '\n' ' ')"
fi

# Video drivers: each scenario loads them itself; here just prove they load and unload.
if modprobe vivid n_devs=1 2>/tmp/err && waitfor 5 test -n "$(capture_nodes)"; then
  result smoke-vivid PASS "capture node $(capture_nodes | head -n 1)"
else
  result smoke-vivid FAIL "$(cat /tmp/err) nodes: $(ls /dev/video* 2>&1)"
fi
modprobe -r vivid
if modprobe v4l2loopback video_nr=9 exclusive_caps=1 max_buffers=4 2>/tmp/err && waitfor 5 test -e /dev/video9; then
  result smoke-v4l2loopback PASS "$(cat /sys/class/video4linux/video9/name) at /dev/video9"
else
  result smoke-v4l2loopback FAIL "modprobe: $(cat /tmp/err); nodes: $(ls /dev/video* 2>&1); dmesg: $(dmesg | tail -n 4 | tr '\n' ' ')"
fi
modprobe -r v4l2loopback 2>/tmp/err
if waitfor 5 sh -c '! ls /dev/video* >/dev/null 2>&1'; then
  result smoke-video-unload PASS "no /dev/video* left"
else
  result smoke-video-unload FAIL "still there: $(ls /dev/video*); modprobe -r: $(cat /tmp/err); loaded: $(lsmod | grep -E '^(vivid|v4l2loopback) ' | tr '\n' ' ')"
fi

# kv itself: a static musl binary, so it runs with nothing but the kernel.
kv --help >/tmp/help.txt 2>&1
status=$?
if [ "$status" = 0 ] && grep -q -- --demo /tmp/help.txt; then
  result smoke-kv-help PASS "$(head -n 1 /tmp/help.txt)"
else
  result smoke-kv-help FAIL "exit $status, --demo not in: $(excerpt /tmp/help.txt)"
fi
kv --version >/tmp/version.txt 2>&1
status=$?
if [ "$status" = 0 ] && grep -qE '[0-9]+\.[0-9]+\.[0-9]+' /tmp/version.txt; then
  result smoke-kv-version PASS "$(head -n 1 /tmp/version.txt)"
else
  result smoke-kv-version FAIL "exit $status, no version in: $(excerpt /tmp/version.txt)"
fi
