/* fill: take every free frame, one order-0 GFP_HIGHMEM page at a time (HighMem falls back to
 * Normal, then DMA, so every zone is reached), write each page, free them all, and check that the
 * free count is back and that a block of the largest order present at boot can be had again.
 * The guest has no heap: the pages form a linked list through their own first word.
 * Each page gets one stamp word every 64 bytes, not a full stamp: the host writes only whole
 * pages (GFP_ZERO) and a frame handed out twice rewrites its owner's link and stamps, so a sparse
 * stamp catches the same faults, and full stamps of 2 GiB cost v86 several seconds. */

#include "workload.h"
#include "hc.h"
#include "printf.h"

/* Word 0 of a listed page: the address of the next page, 0 at the end. Words 16, 32, ... hold
 * their stamp (address ^ key). */
#define LINK_WORD 0
#define STAMP_STRIDE_WORDS 16 /* one stamp word per 64 bytes */

/* Stamps word 0, 16, 32, ... of the page at addr with (its address ^ key). */
static void stamp_page(uint32_t addr, uint32_t key)
{
    uint32_t *word = phys_ptr(addr);
    for (uint32_t i = 0; i < PAGE_SIZE / 4; i += STAMP_STRIDE_WORDS)
        word[i] = (addr + 4 * i) ^ key;
}

/* Checks stamp_page's words. On the first wrong one prints "corruption at ..." and EXITs with
 * EXIT_CORRUPTION, as verify_block does. */
static void verify_page(uint32_t addr, uint32_t key)
{
    const uint32_t *word = phys_ptr(addr);
    for (uint32_t i = 0; i < PAGE_SIZE / 4; i += STAMP_STRIDE_WORDS) {
        uint32_t expected = (addr + 4 * i) ^ key;
        if (word[i] != expected) {
            kprintf("corruption at 0x%08x expected 0x%08x found 0x%08x\n", addr + 4 * i, expected,
                    word[i]);
            hc_exit(EXIT_CORRUPTION);
        }
    }
}

void fill_run(struct run *run)
{
    const struct boot_info *boot = run->boot;
    uint32_t free_start = hc_stat(HC_STAT_FREE_PAGES, 0);
    uint32_t key = run->seed ^ 0xF111F111u;
    uint32_t head = 0, pages = 0, status;
    uint32_t per_zone[3] = { 0, 0, 0 };

    for (;;) {
        uint32_t addr = hc_alloc_pages(0, GFP_HIGHMEM, &status);
        if (status == HC_ENOMEM)
            break;
        if (!CHECK(run, status == HC_OK && addr && !(addr & PAGE_MASK),
                   "alloc %u: addr 0x%x status %u", pages, addr, status))
            break;
        stamp_page(addr, key);
        ((uint32_t *)phys_ptr(addr))[LINK_WORD] = head;
        head = addr;
        pages++;
        per_zone[addr < HC_ZONE_DMA_END ? 0 : addr < HC_ZONE_NORMAL_END ? 1 : 2]++;
    }
    uint32_t free_full = hc_stat(HC_STAT_FREE_PAGES, 0);
    CHECK(run, pages == free_start, "took %u pages but %u were free", pages, free_start);
    CHECK(run, free_full == 0, "%u pages still free after ENOMEM", free_full);

    /* Free in list order (the reverse of allocation), verifying each page on the way. The walk is
     * bounded by the count: a page handed out twice would have turned the list into a cycle. */
    uint32_t freed = 0;
    while (head && freed < pages) {
        uint32_t *page = phys_ptr(head);
        uint32_t next = page[LINK_WORD];
        page[LINK_WORD] = head ^ key; /* restore word 0's stamp, then verify the page */
        verify_page(head, key);
        status = free_page(head);
        CHECK(run, status == HC_OK, "free of 0x%x: status %u", head, status);
        head = next;
        freed++;
    }
    uint32_t free_end = hc_stat(HC_STAT_FREE_PAGES, 0);
    CHECK(run, freed == pages && head == 0, "freed %u of %u pages, list %s", freed, pages,
          head ? "longer than the count" : "ok");
    CHECK(run, free_end == free_start, "free count %u, expected %u", free_end, free_start);

    /* The largest block present at boot must be there again now that everything is back. */
    uint32_t order = boot->top_order;
    uint32_t addr = hc_alloc_pages(order, GFP_HIGHMEM, &status);
    if (CHECK(run, status == HC_OK, "order-%u block after the fill: status %u", order, status)) {
        CHECK(run, (addr & ((PAGE_SIZE << order) - 1)) == 0, "order-%u block at 0x%x is unaligned",
              order, addr);
        CHECK(run, free_pages(addr, order) == HC_OK, "free of the order-%u block failed", order);
    }
    summary(run, "pages=%u (DMA %u, Normal %u, HighMem %u) free=%u restored, order-%u block ok",
            pages, per_zone[0], per_zone[1], per_zone[2], free_end, order);
}
