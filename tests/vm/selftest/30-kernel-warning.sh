# Harness self-test (tests/vm/selftest/check runs it; it must make tests/vm/run fail):
# a kernel WARN(). It prints at KERN_WARNING, so this proves the console shows warnings
# (loglevel=5); panic_on_warn=1 then panics the guest.
if ! modprobe kv_vm_crash 2>/tmp/modprobe.err; then
  result selftest-crash-module FAIL "modprobe kv_vm_crash: $(cat /tmp/modprobe.err)"
  return 0
fi
echo "=== selftest: writing warn to kv_vm_crash now"
# Let the serial port send that line first: the panic that follows stops the tty, and
# check measures from this line (seen lost once without the pause).
sleep 1
echo warn > /sys/module/kv_vm_crash/parameters/crash
result selftest-kernel-warning FAIL "the kernel went on after WARN(): $(dmesg | tail -n 5 | tr '\n' ' ')"
