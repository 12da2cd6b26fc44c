# Harness self-test (tests/vm/selftest/check runs it; it must make tests/vm/run fail):
# the kernel BUG a CI run of kv once hit, "list_del corruption" then "kernel BUG at
# lib/list_debug.c", made on purpose by kv_vm_crash. With oops=panic the guest panics
# and QEMU exits by itself; console-watch must quote the report and name this scenario.
provoke list_del || return 0
result selftest-kernel-bug FAIL "the kernel went on after the list corruption: $(dmesg | tail -n 5 | tr '\n' ' ')"
