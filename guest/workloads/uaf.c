/* uaf: a deliberate use after free, for the host's poison checker (`buddy86 boot --poison`). Takes a
 * page, fills it, frees it, and then writes 0xdeadbeef into it at offset 0x40 (the bug, in
 * uaf_free_then_write: its free site is what the host should name). Asking for a page again gets the
 * same frame back (the host's per-CPU and buddy lists are LIFO), so a host that filled the page with
 * a pattern when it was freed finds the write right there. The guest's own checks all pass: without
 * --poison this workload EXITs 0 and nothing notices. */

#include "workload.h"
#include "hc.h"
#include "printf.h"

#define UAF_OFFSET 0x40
#define UAF_VALUE 0xdeadbeefu

/* Frees the page at addr, then writes into it: the bug. Not inlined, so that the free's EIP (the
 * `in` of the hypercall) lies in this function. Returns the free's status. */
static uint32_t __attribute__((noinline)) uaf_free_then_write(uint32_t addr)
{
    uint32_t status;
    hc_call(HC_FREE_PAGES, addr, 0, 0, &status);
    *(volatile uint32_t *)phys_ptr(addr + UAF_OFFSET) = UAF_VALUE;
    return status;
}

void uaf_run(struct run *run)
{
    uint32_t status;
    uint32_t addr = hc_alloc_pages(0, GFP_KERNEL, &status);
    if (!CHECK(run, status == HC_OK, "alloc: status %u", status))
        return;
    memset(phys_ptr(addr), 0x11, PAGE_SIZE);
    status = uaf_free_then_write(addr);
    CHECK(run, status == HC_OK, "free of 0x%x: status %u", addr, status);
    uint32_t again = hc_alloc_pages(0, GFP_KERNEL, &status);
    if (!CHECK(run, status == HC_OK, "alloc after the free: status %u", status))
        return;
    kprintf("uaf: wrote 0x%x at 0x%x after freeing page 0x%x; the next page handed out is 0x%x\n", UAF_VALUE,
            addr + UAF_OFFSET, addr, again);
    CHECK(run, free_page(again) == HC_OK, "free of 0x%x", again);
    summary(run, "page 0x%x written after its free", addr);
}
