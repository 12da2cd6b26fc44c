// SPDX-License-Identifier: GPL-2.0
/*
 * kv_vm_gpio: a GPIO chip for kv's VM tests, since Debian's kernels build neither
 * gpio-sim nor gpio-mockup (nor IRQ_SIM, which both need). Eight lines named
 * kv-line-0 .. kv-line-7 behave as wires to a test:
 *
 *   echo "OFFSET LEVEL" > /sys/module/kv_vm_gpio/parameters/level
 *       sets an input line's physical level; when the line has an interrupt
 *       enabled for that edge (a GPIO_V2 line request with edge flags), the
 *       interrupt is raised there and then, from process context with local
 *       interrupts off (generic_handle_irq_safe), as a real chip's would be.
 *   cat /sys/module/kv_vm_gpio/parameters/history
 *       every change of any line, oldest first (the newest 64): "OFFSET LEVEL NS",
 *       NS being CLOCK_MONOTONIC (ktime_get_ns) at the change, so a test can
 *       measure how long an output was held and how soon userspace saw an input.
 *       Writing anything to it empties it.
 */
#include <linux/bitops.h>
#include <linux/gpio/driver.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/irqdesc.h>
#include <linux/irqdomain.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/spinlock.h>

#define LINES 8
#define HISTORY 64

static const char *const line_names[LINES] = {
	"kv-line-0", "kv-line-1", "kv-line-2", "kv-line-3",
	"kv-line-4", "kv-line-5", "kv-line-6", "kv-line-7",
};

struct change {
	unsigned int offset;
	int level;
	u64 ns;
};

/* Guards everything below; taken with interrupts off, as the irq chip's callbacks run so. */
static DEFINE_SPINLOCK(lock);
static unsigned long outputs;	/* a bit per line: driven by the chip's user */
static unsigned long levels;	/* a bit per line: its physical level */
static unsigned long enabled;	/* a bit per line: its interrupt is unmasked */
static unsigned int trigger[LINES];
static struct change history[HISTORY];
static unsigned int changes;	/* ever recorded; history is a ring of the newest */

static struct gpio_chip chip;

/* With the lock held: the line's level becomes LEVEL; true when that changed it. */
static bool change_level(unsigned int offset, int level)
{
	struct change *c;

	if (!!test_bit(offset, &levels) == !!level)
		return false;
	assign_bit(offset, &levels, level);
	c = &history[changes % HISTORY];
	c->offset = offset;
	c->level = !!level;
	c->ns = ktime_get_ns();
	changes++;
	return true;
}

static int kv_get_direction(struct gpio_chip *gc, unsigned int offset)
{
	return test_bit(offset, &outputs) ? GPIO_LINE_DIRECTION_OUT : GPIO_LINE_DIRECTION_IN;
}

static int kv_direction_input(struct gpio_chip *gc, unsigned int offset)
{
	unsigned long flags;

	spin_lock_irqsave(&lock, flags);
	clear_bit(offset, &outputs);
	spin_unlock_irqrestore(&lock, flags);
	return 0;
}

static int kv_direction_output(struct gpio_chip *gc, unsigned int offset, int value)
{
	unsigned long flags;

	spin_lock_irqsave(&lock, flags);
	set_bit(offset, &outputs);
	change_level(offset, value);
	spin_unlock_irqrestore(&lock, flags);
	return 0;
}

static int kv_get(struct gpio_chip *gc, unsigned int offset)
{
	return test_bit(offset, &levels);
}

static void kv_set(struct gpio_chip *gc, unsigned int offset, int value)
{
	unsigned long flags;

	spin_lock_irqsave(&lock, flags);
	change_level(offset, value);
	spin_unlock_irqrestore(&lock, flags);
}

static void kv_irq_mask(struct irq_data *d)
{
	irq_hw_number_t hwirq = irqd_to_hwirq(d);

	clear_bit(hwirq, &enabled);
	gpiochip_disable_irq(&chip, hwirq);
}

static void kv_irq_unmask(struct irq_data *d)
{
	irq_hw_number_t hwirq = irqd_to_hwirq(d);

	gpiochip_enable_irq(&chip, hwirq);
	set_bit(hwirq, &enabled);
}

static int kv_irq_set_type(struct irq_data *d, unsigned int type)
{
	if (type & ~IRQ_TYPE_EDGE_BOTH)
		return -EINVAL;	/* edges only: no level interrupts to keep raising */
	trigger[irqd_to_hwirq(d)] = type;
	return 0;
}

static const struct irq_chip kv_irq_chip = {
	.name = "kv-vm-gpio",
	.irq_mask = kv_irq_mask,
	.irq_unmask = kv_irq_unmask,
	.irq_set_type = kv_irq_set_type,
	.flags = IRQCHIP_IMMUTABLE | IRQCHIP_SKIP_SET_WAKE,
	GPIOCHIP_IRQ_RESOURCE_HELPERS,
};

static int level_set(const char *val, const struct kernel_param *kp)
{
	unsigned int offset, irq;
	int level;
	unsigned long flags;
	bool raise = false;

	if (sscanf(val, "%u %d", &offset, &level) != 2 || offset >= LINES)
		return -EINVAL;
	spin_lock_irqsave(&lock, flags);
	if (test_bit(offset, &outputs)) {
		spin_unlock_irqrestore(&lock, flags);
		return -EPERM;	/* its user drives it */
	}
	if (change_level(offset, level))
		raise = test_bit(offset, &enabled) &&
			(trigger[offset] & (level ? IRQ_TYPE_EDGE_RISING : IRQ_TYPE_EDGE_FALLING));
	spin_unlock_irqrestore(&lock, flags);
	if (raise) {
		irq = irq_find_mapping(chip.irq.domain, offset);
		if (irq)
			generic_handle_irq_safe(irq);
	}
	return 0;
}

static int level_get(char *buf, const struct kernel_param *kp)
{
	unsigned long flags;
	unsigned long now;

	spin_lock_irqsave(&lock, flags);
	now = levels;
	spin_unlock_irqrestore(&lock, flags);
	return scnprintf(buf, PAGE_SIZE, "%*pb\n", LINES, &now);
}

static int history_set(const char *val, const struct kernel_param *kp)
{
	unsigned long flags;

	spin_lock_irqsave(&lock, flags);
	changes = 0;
	spin_unlock_irqrestore(&lock, flags);
	return 0;
}

static int history_get(char *buf, const struct kernel_param *kp)
{
	unsigned long flags;
	unsigned int i, first;
	int n = 0;

	spin_lock_irqsave(&lock, flags);
	first = changes > HISTORY ? changes - HISTORY : 0;
	for (i = first; i < changes; i++) {
		struct change *c = &history[i % HISTORY];

		n += scnprintf(buf + n, PAGE_SIZE - n, "%u %d %llu\n", c->offset, c->level, c->ns);
	}
	spin_unlock_irqrestore(&lock, flags);
	return n;
}

static const struct kernel_param_ops level_ops = { .set = level_set, .get = level_get };
static const struct kernel_param_ops history_ops = { .set = history_set, .get = history_get };
module_param_cb(level, &level_ops, NULL, 0644);
MODULE_PARM_DESC(level, "write \"OFFSET LEVEL\" to set an input line; read: the levels");
module_param_cb(history, &history_ops, NULL, 0644);
MODULE_PARM_DESC(history, "the lines' changes, \"OFFSET LEVEL NS\" (CLOCK_MONOTONIC); write to empty");

static int __init kv_vm_gpio_init(void)
{
	struct gpio_irq_chip *girq;

	chip.label = "kv-vm-gpio";
	chip.owner = THIS_MODULE;
	chip.base = -1;
	chip.ngpio = LINES;
	chip.names = line_names;
	chip.can_sleep = false;
	chip.get_direction = kv_get_direction;
	chip.direction_input = kv_direction_input;
	chip.direction_output = kv_direction_output;
	chip.get = kv_get;
	chip.set = kv_set;
	girq = &chip.irq;
	gpio_irq_chip_set_chip(girq, &kv_irq_chip);
	girq->handler = handle_simple_irq;
	girq->default_type = IRQ_TYPE_NONE;
	girq->num_parents = 0;
	girq->parents = NULL;
	girq->parent_handler = NULL;
	return gpiochip_add_data(&chip, NULL);
}

static void __exit kv_vm_gpio_exit(void)
{
	gpiochip_remove(&chip);
}

module_init(kv_vm_gpio_init);
module_exit(kv_vm_gpio_exit);
MODULE_DESCRIPTION("GPIO lines a test sets and reads, with edge interrupts (kv's VM tests)");
MODULE_LICENSE("GPL");
