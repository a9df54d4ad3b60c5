/* The guest's bridge client: one small C function per hypercall of buddy86.h, named after the
 * Linux calls they stand in for (get_free_page, free_pages, ...). Addresses are physical.
 * Expected failure (no memory) returns 0; every call can also hand back the host's status.
 * The page calls (alloc, free, STAT, BATCH) are inline: v86 compiles guest code one 4 KiB page at
 * a time, and a call into another page leaves the compiled code, which costs about as much as the
 * `in` itself. */
#ifndef GUEST_HC_H
#define GUEST_HC_H

#include "buddy86.h"
#include <stdint.h>

/* Announces ABI version HC_ABI_VERSION. Returns the host's version (always, even on EVERSION). */
uint32_t hc_hello(uint32_t *status);

/* Hands the host the multiboot info and the kernel image range [image_start, image_end).
 * Returns the number of managed frames, or 0 with a status (ESTATE, EFAULT, EINVAL). */
uint32_t hc_memmap(uint32_t info_addr, uint32_t image_start, uint32_t image_end, uint32_t *status);

/* Keeps [start_addr, start_addr + bytes) out of the allocator. Before hc_memmap only.
 * Returns the status. */
uint32_t hc_reserve(uint32_t start_addr, uint32_t bytes);

/* Allocates 2^order frames aligned to their size. Returns the address, or 0 with *status set
 * (ENOMEM when nothing fits; EINVAL for a bad order or gfp). status may be NULL. */
static inline uint32_t hc_alloc_pages(uint32_t order, uint32_t gfp, uint32_t *status)
{
    return hc_call(HC_ALLOC_PAGES, order, gfp, 0, status);
}

/* One frame: hc_alloc_pages(0, gfp). Returns its address or 0. */
static inline uint32_t get_free_page(uint32_t gfp)
{
    return hc_call(HC_ALLOC_PAGES, 0, gfp, 0, 0);
}

/* Frees a block from hc_alloc_pages. Returns the status: HC_OK, or EDOUBLEFREE, EBADORDER,
 * ENOTHEAD, EFAULT for a bad free (which then changes nothing). */
static inline uint32_t free_pages(uint32_t addr, uint32_t order)
{
    uint32_t status;
    hc_call(HC_FREE_PAGES, addr, order, 0, &status);
    return status;
}

static inline uint32_t free_page(uint32_t addr)
{
    return free_pages(addr, 0);
}

/* Allocates exactly npages contiguous frames inside one zone, the first aligned to align frames
 * (a power of two; 0 means 1). npages may exceed a max-order block. Returns the address or 0. */
uint32_t hc_alloc_contig(uint32_t npages, uint32_t align, uint32_t gfp, uint32_t *status);
uint32_t alloc_contig(uint32_t npages, uint32_t align, uint32_t gfp);

/* Frees a range from alloc_contig; npages must match. Returns the status. */
uint32_t free_contig(uint32_t addr, uint32_t npages);

/* Reads a STAT item (HC_STAT_*). Returns its value, or 0 for a bad item or argument. */
static inline uint32_t hc_stat(uint32_t item, uint32_t arg)
{
    return hc_call(HC_STAT, item, arg, 0, 0);
}

/* Runs count records (1..HC_LIMIT_BATCH_MAX_RECORDS) in order; the host fills in each record's
 * status and result. Returns how many ended HC_OK (0 and nothing run for a bad array or count). */
static inline uint32_t hc_batch(struct hc_batch_record *records, uint32_t count)
{
    return hc_call(HC_BATCH, (uint32_t)(uintptr_t)records, count, 0, 0);
}

/* Puts a named marker (at most HC_LIMIT_MARK_LABEL_MAX bytes) in the host's log and trace.
 * Returns the status. */
uint32_t hc_mark(const char *label);

/* Ends the run with code (0 = every check passed). Never returns: if the host ever did return,
 * the CPU halts for good. */
void hc_exit(uint32_t code) __attribute__((noreturn));

#endif /* GUEST_HC_H */
