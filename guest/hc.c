/* The guest's bridge client: see hc.h (the page calls are inline there). Each wrapper is one
 * hc_call() (buddy86.h) with its arguments in the ABI's order; the interesting code is on the host
 * side of the port. */

#include "hc.h"
#include "x86.h"
#include <stddef.h>

uint32_t hc_hello(uint32_t *status)
{
    return hc_call(HC_HELLO, HC_ABI_VERSION, 0, 0, status);
}

uint32_t hc_memmap(uint32_t info_addr, uint32_t image_start, uint32_t image_end, uint32_t *status)
{
    return hc_call(HC_MEMMAP, info_addr, image_start, image_end, status);
}

uint32_t hc_reserve(uint32_t start_addr, uint32_t bytes)
{
    uint32_t status;
    hc_call(HC_RESERVE, start_addr, bytes, 0, &status);
    return status;
}

uint32_t hc_alloc_contig(uint32_t npages, uint32_t align, uint32_t gfp, uint32_t *status)
{
    return hc_call(HC_ALLOC_CONTIG, npages, align, gfp, status);
}

uint32_t alloc_contig(uint32_t npages, uint32_t align, uint32_t gfp)
{
    return hc_call(HC_ALLOC_CONTIG, npages, align, gfp, NULL);
}

uint32_t free_contig(uint32_t addr, uint32_t npages)
{
    uint32_t status;
    hc_call(HC_FREE_CONTIG, addr, npages, 0, &status);
    return status;
}

uint32_t hc_mark(const char *label)
{
    uint32_t status;
    hc_call(HC_MARK, (uint32_t)(uintptr_t)label, 0, 0, &status);
    return status;
}

void hc_exit(uint32_t code)
{
    hc_call(HC_EXIT, code, 0, 0, NULL);
    halt_forever();
}
