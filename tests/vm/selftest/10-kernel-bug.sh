# Harness self-test (tests/vm/selftest/check runs it; it must make tests/vm/run fail):
# the kernel BUG a CI run of kv once hit, "list_del corruption" then "kernel BUG at
# lib/list_debug.c", made on purpose by kv_vm_crash. With oops=panic the guest panics
# and QEMU exits by itself; console-watch must quote the report and name this scenario.
if ! modprobe kv_vm_crash 2>/tmp/modprobe.err; then
  result selftest-crash-module FAIL "modprobe kv_vm_crash: $(cat /tmp/modprobe.err)"
  return 0
fi
echo "=== selftest: writing list_del to kv_vm_crash now"
# Let the serial port send that line first: the panic that follows stops the tty, and
# check measures from this line (seen lost once without the pause).
sleep 1
echo list_del > /sys/module/kv_vm_crash/parameters/crash
result selftest-kernel-bug FAIL "the kernel went on after the list corruption: $(dmesg | tail -n 5 | tr '\n' ' ')"
