# Harness self-test (tests/vm/selftest/check runs it; it must make tests/vm/run fail):
# a kernel WARN(). It prints at KERN_WARNING, so this proves the console shows warnings
# (loglevel=5); panic_on_warn=1 then panics the guest.
provoke warn || return 0
result selftest-kernel-warning FAIL "the kernel went on after WARN(): $(dmesg | tail -n 5 | tr '\n' ' ')"
