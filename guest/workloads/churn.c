/* churn: ops x (get_free_page; free_page), the tightest loop through the bridge. With the
 * per-CPU cache on, the host answers every pair from its hot list; this is the loop the bridge
 * benchmark times. Any failure here is a failure: nothing else holds memory. */

#include "workload.h"
#include "hc.h"

void churn_run(struct run *run)
{
    uint32_t pairs = 0;
    for (uint32_t i = 0; i < run->ops; i++) {
        uint32_t status;
        uint32_t addr = hc_alloc_pages(0, GFP_KERNEL, &status);
        if (!CHECK(run, status == HC_OK && addr != 0, "alloc %u: status %u", i, status))
            continue;
        CHECK(run, (addr & PAGE_MASK) == 0, "alloc %u: unaligned address 0x%x", i, addr);
        status = free_page(addr);
        if (CHECK(run, status == HC_OK, "free of 0x%x: status %u", addr, status))
            pairs++;
    }
    summary(run, "ops=%u pairs=%u", run->ops, pairs);
}
