// SPDX-License-Identifier: GPL-2.0
/*
 * kv_vm_crash: makes the test VM's kernel fail on purpose, so that tests/vm/selftest
 * can prove tests/vm/run notices a guest kernel failure quickly and quotes it.
 * Debian's kernel is built without lkdtm (CONFIG_LKDTM is not set), hence this module,
 * which does only the few failures the self-test needs:
 *
 *   echo list_del    > /sys/module/kv_vm_crash/parameters/crash
 *
 *   list_del     list_del() of an entry whose neighbour no longer points back at it:
 *                "list_del corruption", then "kernel BUG at lib/list_debug.c" (Debian
 *                sets CONFIG_BUG_ON_DATA_CORRUPTION); what a CI run of kv once hit
 *   null         a write through a NULL pointer: "BUG: kernel NULL pointer
 *                dereference", "Oops: 0002"
 *   warn         WARN(): "WARNING: CPU: n PID: n at ..."
 *   softlockup   spins with preemption disabled until the soft lockup detector
 *                reports "watchdog: BUG: soft lockup" (never returns)
 */
#include <linux/bug.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/preempt.h>
#include <linux/processor.h>
#include <linux/string.h>

static int kv_vm_crash_set(const char *val, const struct kernel_param *kp)
{
	if (sysfs_streq(val, "list_del")) {
		LIST_HEAD(head);
		struct list_head first, second;

		list_add_tail(&first, &head);
		list_add_tail(&second, &head);
		/* Break the chain: second->prev is first, but first no longer leads to second. */
		WRITE_ONCE(first.next, &head);
		list_del(&second);
		pr_err("kv_vm_crash: list_del corruption was not detected\n");
		return -EINVAL;
	}
	if (sysfs_streq(val, "null")) {
		*(volatile int *)NULL = 1;
		return -EINVAL;
	}
	if (sysfs_streq(val, "warn")) {
		WARN(1, "kv_vm_crash: warning on request\n");
		return 0;
	}
	if (sysfs_streq(val, "softlockup")) {
		preempt_disable();
		for (;;)
			cpu_relax();
	}
	pr_err("kv_vm_crash: unknown crash '%s' (list_del, null, warn, softlockup)\n", val);
	return -EINVAL;
}

static const struct kernel_param_ops kv_vm_crash_ops = {
	.set = kv_vm_crash_set,
};
module_param_cb(crash, &kv_vm_crash_ops, NULL, 0200);
MODULE_PARM_DESC(crash, "write list_del, null, warn or softlockup to make the kernel fail");

MODULE_DESCRIPTION("kv test VM: kernel failures on request, for the harness's self-test");
MODULE_LICENSE("GPL");
