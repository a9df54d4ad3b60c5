/* Kernel-wide facts of the buddy86 guest: its exit codes (the host reports them), the image
 * symbols from linker.ld, what boot learned from the host, and panic(). */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include <stdint.h>

/* EXIT codes. 0 only when every check of the chosen workload passed. */
#define EXIT_PASS 0          /* every check passed */
#define EXIT_CHECK_FAILED 1  /* at least one check failed (the log says which) */
#define EXIT_BOOT_ERROR 2    /* bad boot magic, cmdline, HELLO or MEMMAP; unknown workload */
#define EXIT_CORRUPTION 3    /* a stamped block did not hold its stamp when it was freed */
#define EXIT_TRAP_BASE 0x80  /* a CPU exception: 0x80 + vector (0x8E = page fault) */

/* Bounds of the loaded image, code through boot stack (linker.ld). Page aligned. */
extern char __kernel_start[], __kernel_end[];

/* What the kernel learned right after MEMMAP, before any workload ran. */
struct boot_info {
    uint32_t managed_pages; /* STAT_MANAGED_PAGES */
    uint32_t free_pages;    /* STAT_FREE_PAGES */
    uint32_t max_order;     /* STAT_MAX_ORDER, inclusive */
    uint32_t zones;         /* STAT_ZONES */
    uint32_t top_order;     /* the largest order with a free block in the buddy lists */
    uint32_t ram_end_addr;  /* end of the highest usable RAM range in the memory map */
};

/* The C entry point, called by _start (entry.S) with the boot magic and the info address. */
void kmain(uint32_t magic, uint32_t info_addr) __attribute__((noreturn));

/* Prints "panic: <message>" on COM1 and EXITs with code. Never returns. */
void panic(uint32_t code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

#endif /* GUEST_KERNEL_H */
