/* kmain: the guest's boot sequence. Serial and IDT first (so every later failure is visible),
 * then the cmdline, HELLO and MEMMAP (handing the host our RAM), a look at the allocator through
 * STAT, and finally the workload the cmdline chose. Every path ends in hc_exit(). */

#include "boot.h"
#include "hc.h"
#include "kernel.h"
#include "lib.h"
#include "printf.h"
#include "serial.h"
#include "trap.h"
#include "workloads/workload.h"

void panic(uint32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kprintf("panic: ");
    kvprintf(fmt, ap);
    kprintf("\n");
    va_end(ap);
    hc_exit(code);
}

/* Asks the host what it built: counts, max order, and the largest order that has a free block. */
static void read_boot_info(struct boot_info *boot, uint32_t ram_end_addr)
{
    boot->managed_pages = hc_stat(HC_STAT_MANAGED_PAGES, 0);
    boot->free_pages = hc_stat(HC_STAT_FREE_PAGES, 0);
    boot->max_order = hc_stat(HC_STAT_MAX_ORDER, 0);
    boot->zones = hc_stat(HC_STAT_ZONES, 0);
    boot->ram_end_addr = ram_end_addr;
    boot->top_order = 0;
    for (uint32_t order = 0; order <= boot->max_order; order++) {
        if (hc_stat(HC_STAT_FREE_BLOCKS, order) > 0)
            boot->top_order = order;
    }
}

void kmain(uint32_t magic, uint32_t info_addr)
{
    serial_init();
    idt_init();
    kprintf("buddy86 guest: image [%p-%p), info at %p\n", (void *)__kernel_start,
            (void *)__kernel_end, (void *)info_addr);
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        panic(EXIT_BOOT_ERROR, "not booted by a multiboot loader (eax=0x%x)", magic);

    struct boot_args args;
    if (!boot_parse_cmdline(info_addr, &args))
        panic(EXIT_BOOT_ERROR, "bad command line");
    const struct workload *workload = workload_find(args.workload);
    if (!workload) {
        workload_list();
        panic(EXIT_BOOT_ERROR, "unknown workload '%s'", args.workload);
    }
    uint32_t ram_end_addr = boot_print_memory_map(info_addr);

    uint32_t status;
    uint32_t version = hc_hello(&status);
    if (status != HC_OK)
        panic(EXIT_BOOT_ERROR, "HELLO: host speaks ABI %u, status %u", version, status);
    uint32_t managed = hc_memmap(info_addr, (uint32_t)(uintptr_t)__kernel_start,
                                 (uint32_t)(uintptr_t)__kernel_end, &status);
    if (status != HC_OK)
        panic(EXIT_BOOT_ERROR, "MEMMAP failed with status %u", status);

    struct boot_info boot;
    read_boot_info(&boot, ram_end_addr);
    kprintf("buddy86 guest: %u managed pages, %u free, max order %u, %u zones, "
            "largest free block order %u\n",
            managed, boot.free_pages, boot.max_order, boot.zones, boot.top_order);

    struct run run = {
        .name = workload->name,
        .boot = &boot,
        .seed = args.seed,
        .ops = args.ops ? args.ops : workload->default_ops,
        .warmup = args.warmup,
    };
    kprintf("buddy86 guest: workload=%s seed=%u", run.name, run.seed);
    if (run.ops) /* 0: this workload's size does not depend on ops */
        kprintf(" ops=%u", run.ops);
    kprintf("\n");
    uint32_t failures = workload_run(workload, &run);
    kprintf("buddy86 guest: %s, exit %u\n", failures ? "FAILED" : "all checks passed",
            failures ? EXIT_CHECK_FAILED : EXIT_PASS);
    hc_exit(failures ? EXIT_CHECK_FAILED : EXIT_PASS);
}
