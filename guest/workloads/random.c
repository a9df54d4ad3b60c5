/* random: the W3 stream of the core benchmark against the real host. Per step, a = xs(), b = xs()
 * from xorshift32: when a's top bit is set and blocks are live, free a random live block
 * (swap-remove), else allocate a block of w3_order(b). Every block is stamped at allocation (each
 * word = its address ^ seed) and verified at free. ENOMEM is normal and counted. At the end
 * everything still live is verified and freed. */

#include "liveset.h"
#include "hc.h"

/* GFP_HIGHMEM reaches every zone, so large guests exercise HighMem too. */
#define RANDOM_GFP GFP_HIGHMEM

/* Verifies and frees one live entry; returns true when the free succeeded. */
static bool release(struct run *run, uint32_t entry)
{
    uint32_t addr = LIVE_ADDR(entry), order = LIVE_ORDER(entry);
    verify_block(addr, 1u << order, run->seed);
    uint32_t status = free_pages(addr, order);
    return CHECK(run, status == HC_OK, "free of 0x%x order %u: status %u", addr, order, status);
}

void random_run(struct run *run)
{
    uint32_t max_order = run->boot->max_order;
    /* Each live block holds at least one frame, so the free count bounds the live set. */
    uint32_t cap = MIN(run->ops, hc_stat(HC_STAT_FREE_PAGES, 0));
    struct live_set live;
    if (!live_init(&live, run, cap))
        return;

    uint32_t state = w3_state(run->seed);
    uint32_t allocs = 0, frees = 0, enomem = 0, pages_live = 0, pages_peak = 0;
    for (uint32_t i = 0; i < run->ops; i++) {
        uint32_t a = xorshift32(&state), b = xorshift32(&state);
        if ((a >> 31) && live.len) {
            uint32_t entry = live_take(&live, b);
            if (release(run, entry))
                frees++;
            pages_live -= 1u << LIVE_ORDER(entry);
            continue;
        }
        uint32_t order = w3_order(b, max_order), status;
        uint32_t addr = hc_alloc_pages(order, RANDOM_GFP, &status);
        if (status == HC_ENOMEM) {
            enomem++;
            continue;
        }
        if (!CHECK(run, status == HC_OK, "alloc order %u: status %u", order, status))
            continue;
        CHECK(run, (addr & ((PAGE_SIZE << order) - 1)) == 0, "order-%u block at 0x%x is unaligned",
              order, addr);
        if (!CHECK(run, live.len < live.cap, "live set full (%u)", live.cap)) {
            free_pages(addr, order);
            continue;
        }
        stamp_block(addr, 1u << order, run->seed);
        live_push(&live, addr, order);
        allocs++;
        pages_live += 1u << order;
        pages_peak = MAX(pages_peak, pages_live);
    }

    uint32_t left = live.len;
    while (live.len)
        release(run, live.entries[--live.len]);
    live_destroy(&live, run);
    summary(run, "ops=%u allocs=%u frees=%u enomem=%u freed-at-end=%u peak=%u blocks/%u pages",
            run->ops, allocs, frees, enomem, left, live.peak, pages_peak);
}
