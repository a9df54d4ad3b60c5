/* The live set's array: one ALLOC_CONTIG range, sized by the caller. See liveset.h. */

#include "liveset.h"
#include "hc.h"

bool live_init(struct live_set *set, struct run *run, uint32_t cap)
{
    if (cap == 0)
        cap = 1;
    uint32_t pages = (cap + PAGE_SIZE / 4 - 1) / (PAGE_SIZE / 4);
    uint32_t status;
    uint32_t addr = hc_alloc_contig(pages, 1, GFP_KERNEL, &status);
    *set = (struct live_set){ .entries = phys_ptr(addr), .cap = cap, .array_pages = pages };
    return CHECK(run, status == HC_OK, "live set of %u pages: status %u", pages, status);
}

void live_destroy(struct live_set *set, struct run *run)
{
    CHECK(run, set->len == 0, "live set destroyed with %u entries", set->len);
    uint32_t status = free_contig((uint32_t)(uintptr_t)set->entries, set->array_pages);
    CHECK(run, status == HC_OK, "free of the live set: status %u", status);
}
