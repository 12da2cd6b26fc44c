# Harness self-test (tests/vm/selftest/check runs it; it must make tests/vm/run fail):
# a CPU spinning in the kernel with preemption disabled. watchdog_thresh=5 has the
# kernel report "watchdog: BUG: soft lockup" after ~10 s. softlockup_panic is turned off
# here so the guest keeps running, as after the CI run's BUG: QEMU never exits by itself
# and console-watch must kill it.
if ! modprobe kv_vm_crash 2>/tmp/modprobe.err; then
  result selftest-crash-module FAIL "modprobe kv_vm_crash: $(cat /tmp/modprobe.err)"
  return 0
fi
echo 0 > /proc/sys/kernel/softlockup_panic
echo "=== selftest: writing softlockup to kv_vm_crash now"
# The writer never returns (its CPU spins); run it in the background so this scenario
# goes on to the bounded wait below, as a scenario whose kv hangs in the kernel would.
spawn crash sh -c 'echo softlockup > /sys/module/kv_vm_crash/parameters/crash'
sleep 60
result selftest-soft-lockup FAIL "no soft lockup report within 60 s: $(dmesg | tail -n 5 | tr '\n' ' ')"
