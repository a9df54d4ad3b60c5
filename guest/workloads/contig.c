/* contig: ALLOC_CONTIG and zones. (1) ranges with alignments from 1 frame to twice a max-order
 * block, held together and told apart by their stamps; (2) runs longer than a max-order block;
 * (3) GFP_DMA requests, which must end below 16 MiB; (4) GFP_HIGHMEM requests, which must land at
 * 896 MiB or above when the guest has that much RAM; (5) GFP_ZERO after the guest dirtied the
 * memory. Every range must lie inside one zone, and GFP_KERNEL memory below 896 MiB. */

#include "workload.h"
#include "hc.h"

/* HighMem at least this big gets the multi-page placement checks (see zone_requests). */
#define HIGHMEM_CHECK_BYTES (64u << 20)

struct range {
    uint32_t addr, npages;
};

/* Allocates npages aligned to align frames with gfp and checks what every range must satisfy.
 * Returns the address, or 0 after a failed CHECK. */
static uint32_t get_range(struct run *run, uint32_t npages, uint32_t align, uint32_t gfp)
{
    uint32_t status;
    uint32_t addr = hc_alloc_contig(npages, align, gfp, &status);
    if (!CHECK(run, status == HC_OK, "alloc_contig(%u, align %u, gfp 0x%x): status %u", npages,
               align, gfp, status))
        return 0;
    uint32_t align_bytes = (align ? align : 1) << PAGE_SHIFT;
    CHECK(run, (addr & (align_bytes - 1)) == 0, "range 0x%x is not aligned to %u frames", addr, align);
    CHECK(run, in_one_zone(addr, npages), "range 0x%x + %u pages crosses a zone boundary", addr, npages);
    if (!(gfp & GFP_HIGHMEM))
        CHECK(run, addr + (npages << PAGE_SHIFT) <= HC_ZONE_NORMAL_END,
              "gfp 0x%x range 0x%x + %u pages reaches HighMem", gfp, addr, npages);
    if (gfp & GFP_DMA)
        CHECK(run, addr + (npages << PAGE_SHIFT) <= HC_ZONE_DMA_END,
              "GFP_DMA range 0x%x + %u pages ends above 16 MiB", addr, npages);
    return addr;
}

static void put_range(struct run *run, uint32_t addr, uint32_t npages)
{
    uint32_t status = free_contig(addr, npages);
    CHECK(run, status == HC_OK, "free_contig(0x%x, %u): status %u", addr, npages, status);
}

static void put_pages(struct run *run, uint32_t addr, uint32_t order)
{
    uint32_t status = free_pages(addr, order);
    CHECK(run, status == HC_OK, "free_pages(0x%x, %u): status %u", addr, order, status);
}

/* (1): one range per alignment, all held at once, each stamped with its own key so that two
 * overlapping ranges would show up as corruption. Largest alignment first: a 16 MiB guest has a
 * single 8 MiB-aligned frame, and a smaller request held earlier could be sitting on it. An
 * alignment whose first candidate (frame 0 is never managed) ends above top_addr cannot be met
 * by GFP_KERNEL and is skipped. Returns the largest alignment tried, in frames. */
static uint32_t alignments(struct run *run, uint32_t top_addr)
{
    uint32_t max_order = run->boot->max_order;
    const uint32_t aligns[] = { 2u << max_order, 1u << max_order, 64, 8, 2, 1, 0 };
    const uint32_t sizes[] = { 2, 7, 100, 17, 5, 3, 1 };
    struct range held[ARRAY_SIZE(aligns)];
    uint32_t largest = 0;
    for (uint32_t i = 0; i < ARRAY_SIZE(aligns); i++) {
        held[i] = (struct range){ 0, sizes[i] };
        uint64_t first_end = ((uint64_t)MAX(aligns[i], 1) + sizes[i]) << PAGE_SHIFT;
        if (first_end > top_addr)
            continue;
        largest = MAX(largest, aligns[i]);
        held[i].addr = get_range(run, sizes[i], aligns[i], GFP_KERNEL);
        if (held[i].addr)
            stamp_block(held[i].addr, held[i].npages, run->seed + i);
    }
    for (uint32_t i = 0; i < ARRAY_SIZE(aligns); i++) {
        if (held[i].addr) {
            verify_block(held[i].addr, held[i].npages, run->seed + i);
            put_range(run, held[i].addr, held[i].npages);
        }
    }
    return largest;
}

/* (2): a run of a max-order block plus 3 frames, unaligned and max-order aligned. Skipped when
 * the zone it would come from is not at least twice that long (a max order of 12 in a 16 MiB
 * guest, say). Returns the run's length in pages, or 0 when skipped. */
static uint32_t long_runs(struct run *run, uint32_t top_addr)
{
    uint32_t npages = (1u << run->boot->max_order) + 3;
    uint32_t zone_start = top_addr > HC_ZONE_DMA_END ? HC_ZONE_DMA_END : (uint32_t)(uintptr_t)__kernel_end;
    if ((uint64_t)npages << (PAGE_SHIFT + 1) > top_addr - zone_start)
        return 0;
    const uint32_t aligns[] = { 1, 1u << run->boot->max_order };
    for (uint32_t i = 0; i < ARRAY_SIZE(aligns); i++) {
        uint32_t addr = get_range(run, npages, aligns[i], GFP_KERNEL);
        if (addr) {
            stamp_block(addr, npages, ~run->seed);
            verify_block(addr, npages, ~run->seed);
            put_range(run, addr, npages);
        }
    }
    return npages;
}

/* (3) and (4): zone-restricted requests, both through ALLOC_CONTIG and ALLOC_PAGES.
 * GFP_HIGHMEM falls back to Normal when HighMem has no fitting free block, and frames parked in
 * the host's per-CPU cache do not count as such (a zone falls back before the cache is drained).
 * So only an order-0 page must come from HighMem whatever the cache holds; larger requests are
 * checked only when HighMem is big enough (64 MiB) that the cache cannot break every block. */
static void zone_requests(struct run *run, bool has_highmem)
{
    uint32_t addr = get_range(run, 5, 4, GFP_DMA);
    if (addr)
        put_range(run, addr, 5);
    uint32_t status, order = MIN(3u, run->boot->max_order);
    addr = hc_alloc_pages(order, GFP_DMA, &status);
    if (CHECK(run, status == HC_OK, "order-%u GFP_DMA: status %u", order, status)) {
        CHECK(run, addr + (PAGE_SIZE << order) <= HC_ZONE_DMA_END, "GFP_DMA block at 0x%x", addr);
        put_pages(run, addr, order);
    }
    if (!has_highmem)
        return;

    addr = get_free_page(GFP_HIGHMEM);
    if (CHECK(run, addr != 0, "no order-0 GFP_HIGHMEM page")) {
        CHECK(run, addr >= HC_ZONE_NORMAL_END, "GFP_HIGHMEM page at 0x%x is below 896 MiB", addr);
        put_pages(run, addr, 0);
    }
    if (run->boot->ram_end_addr - HC_ZONE_NORMAL_END < HIGHMEM_CHECK_BYTES)
        return;
    addr = get_range(run, 33, 16, GFP_HIGHMEM);
    if (addr) {
        CHECK(run, addr >= HC_ZONE_NORMAL_END, "GFP_HIGHMEM range at 0x%x is below 896 MiB", addr);
        put_range(run, addr, 33);
    }
    order = MIN(10u, run->boot->max_order);
    addr = hc_alloc_pages(order, GFP_HIGHMEM, &status);
    if (CHECK(run, status == HC_OK, "order-%u GFP_HIGHMEM: status %u", order, status)) {
        CHECK(run, addr >= HC_ZONE_NORMAL_END, "GFP_HIGHMEM block at 0x%x is below 896 MiB", addr);
        put_pages(run, addr, order);
    }
}

/* True when every byte of the pages at addr is zero. */
static bool all_zero(uint32_t addr, uint32_t pages)
{
    const uint32_t *word = phys_ptr(addr);
    for (uint32_t i = 0; i < pages << (PAGE_SHIFT - 2); i++) {
        if (word[i])
            return false;
    }
    return true;
}

/* (5): dirty a block, free it, ask for the same shape with GFP_ZERO, and check it is zero.
 * The per-CPU cache and the buddy lists are LIFO, so the dirty memory usually comes straight
 * back; `reused` counts how often it did (the check holds either way). */
static uint32_t zeroing(struct run *run)
{
    uint32_t reused = 0;
    const uint32_t orders[] = { 0, MIN(3u, run->boot->max_order) };
    for (uint32_t i = 0; i < ARRAY_SIZE(orders); i++) {
        uint32_t order = orders[i], pages = 1u << order;
        uint32_t dirty = hc_alloc_pages(order, GFP_KERNEL, NULL);
        if (!CHECK(run, dirty != 0, "order-%u block to dirty", order))
            continue;
        stamp_block(dirty, pages, 0xDEADBEEFu);
        put_pages(run, dirty, order);
        uint32_t clean = hc_alloc_pages(order, GFP_KERNEL | GFP_ZERO, NULL);
        if (!CHECK(run, clean != 0, "order-%u GFP_ZERO block", order))
            continue;
        reused += clean == dirty;
        CHECK(run, all_zero(clean, pages), "order-%u GFP_ZERO block at 0x%x is not zero", order, clean);
        put_pages(run, clean, order);
    }
    uint32_t dirty = get_range(run, 7, 1, GFP_KERNEL);
    if (dirty) {
        stamp_block(dirty, 7, 0xDEADBEEFu);
        put_range(run, dirty, 7);
        uint32_t clean = get_range(run, 7, 1, GFP_KERNEL | GFP_ZERO);
        if (clean) {
            reused += clean == dirty;
            CHECK(run, all_zero(clean, 7), "GFP_ZERO range at 0x%x is not zero", clean);
            put_range(run, clean, 7);
        }
    }
    return reused;
}

void contig_run(struct run *run)
{
    bool has_highmem = run->boot->ram_end_addr > HC_ZONE_NORMAL_END;
    /* GFP_KERNEL memory (Normal, then DMA) ends here. */
    uint32_t top_addr = MIN(run->boot->ram_end_addr, HC_ZONE_NORMAL_END);
    uint32_t largest_align = alignments(run, top_addr);
    uint32_t run_pages = long_runs(run, top_addr);
    zone_requests(run, has_highmem);
    uint32_t reused = zeroing(run);
    summary(run, "alignments 1..%u frames, run of %u pages%s, DMA ok, HighMem %s, "
            "GFP_ZERO ok (%u of 3 dirty blocks came back zeroed)",
            largest_align, run_pages, run_pages ? "" : " (skipped: RAM too small for max order)",
            has_highmem ? "ok" : "absent (RAM below 896 MiB)", reused);
}
