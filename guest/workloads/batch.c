/* batch: churn and random again, through BATCH with 64 records per call, the records in a page
 * the host gave us. batchchurn: the churn half alone, the loop `npm run bench:bridge` times.
 * A free needs the address an earlier allocation returned, so both phases run as a pipeline: a
 * call carries the frees of blocks from earlier calls plus new allocations, and the allocations'
 * results are only read once the call returns. ENOMEM stays normal for random. */

#include "liveset.h"
#include "hc.h"
#include "printf.h"

#define RECORDS_PER_CALL 64
#define CHURN_SLOTS (RECORDS_PER_CALL / 2) /* churn: 32 frees, then 32 allocations, per call */

static void record(struct hc_batch_record *r, uint32_t cmd, uint32_t arg0, uint32_t arg1)
{
    *r = (struct hc_batch_record){ .cmd = (uint16_t)cmd, .arg0 = arg0, .arg1 = arg1 };
}

/* Checks a call's records one by one: each status OK, and BATCH's count of OK records right. */
static void check_records(struct run *run, const struct hc_batch_record *records, uint32_t count,
                          uint32_t ok)
{
    uint32_t expected = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct hc_batch_record *r = &records[i];
        if (CHECK(run, r->status == HC_OK, "batched %s(0x%x, %u): status %u",
                  r->cmd == HC_FREE_PAGES ? "free" : "alloc", r->arg0, r->arg1, r->status))
            expected++;
    }
    CHECK(run, ok == expected, "BATCH said %u records ok, their statuses say %u", ok, expected);
}

/* Runs count records and checks the count of OK records against their statuses. */
static void run_batch(struct run *run, struct hc_batch_record *records, uint32_t count)
{
    uint32_t ok = hc_batch(records, count), expected = 0;
    for (uint32_t i = 0; i < count; i++)
        expected += records[i].status == HC_OK;
    CHECK(run, ok == expected, "BATCH said %u records ok, their statuses say %u", ok, expected);
}

/* ops x (alloc; free), in place. The page holds 32 free records and then 32 allocation records,
 * written once: the host writes only each record's status and result, so a call needs nothing
 * but its frees' addresses, copied from the results of the call before. Each call frees the pages
 * the previous call allocated and (while ops remain) allocates up to 32 more, as one run of
 * records [CHURN_SLOTS - held, CHURN_SLOTS + allocs). When BATCH says every record ended OK, no
 * status needs reading; otherwise check_records says which failed. About six guest instructions
 * per page: this is the loop the bridge benchmark times. */
static void batch_churn(struct run *run, struct hc_batch_record *records, uint32_t *calls)
{
    struct hc_batch_record *frees = records, *allocs = records + CHURN_SLOTS;
    for (uint32_t i = 0; i < CHURN_SLOTS; i++) {
        record(&frees[i], HC_FREE_PAGES, 0, 0);
        record(&allocs[i], HC_ALLOC_PAGES, 0, GFP_KERNEL);
    }
    uint32_t held = 0, done = 0, misaligned = 0;
    while (done < run->ops || held) {
        struct hc_batch_record *first = frees + CHURN_SLOTS - held;
        for (uint32_t i = 0; i < held; i++) {
            uint32_t addr = allocs[i].result;
            misaligned |= addr & PAGE_MASK;
            first[i].arg0 = addr;
        }
        uint32_t count = held + MIN(CHURN_SLOTS, run->ops - done);
        uint32_t ok = hc_batch(first, count);
        (*calls)++;
        if (ok != count)
            check_records(run, first, count, ok);
        done += count - held;
        held = count - held;
    }
    CHECK(run, misaligned == 0, "batched allocations returned unaligned addresses (low bits 0x%x)",
          misaligned);
}

struct random_totals {
    uint32_t allocs, enomem, frees;
};

/* Sends the queued records, then adopts every allocation that succeeded into the live set. */
static void random_flush(struct run *run, struct hc_batch_record *records, uint32_t n,
                         struct live_set *live, struct random_totals *totals)
{
    run_batch(run, records, n);
    for (uint32_t i = 0; i < n; i++) {
        struct hc_batch_record *r = &records[i];
        if (r->cmd == HC_FREE_PAGES) {
            if (CHECK(run, r->status == HC_OK, "batched free of 0x%x: status %u", r->arg0, r->status))
                totals->frees++;
        } else if (r->status == HC_ENOMEM) {
            totals->enomem++;
        } else if (CHECK(run, r->status == HC_OK, "batched alloc order %u: status %u", r->arg0,
                         r->status)) {
            stamp_block(r->result, 1u << r->arg0, run->seed);
            live_push(live, r->result, r->arg0);
            totals->allocs++;
        }
    }
}

/* The W3 stream of random.c with batched calls. Pending allocations join the live set when their
 * call returns, so the decisions differ from random's; the checks are the same. */
static void batch_random(struct run *run, struct hc_batch_record *records, uint32_t *calls,
                         struct random_totals *totals)
{
    struct live_set live;
    /* Room for every live block plus one call's worth of allocations in flight. */
    if (!live_init(&live, run, MIN(run->ops, hc_stat(HC_STAT_FREE_PAGES, 0)) + RECORDS_PER_CALL))
        return;
    uint32_t state = w3_state(run->seed), n = 0;
    for (uint32_t i = 0; i < run->ops; i++) {
        uint32_t a = xorshift32(&state), b = xorshift32(&state);
        if ((a >> 31) && live.len) {
            uint32_t entry = live_take(&live, b);
            verify_block(LIVE_ADDR(entry), 1u << LIVE_ORDER(entry), run->seed);
            record(&records[n++], HC_FREE_PAGES, LIVE_ADDR(entry), LIVE_ORDER(entry));
        } else if (live.len + RECORDS_PER_CALL <= live.cap) {
            record(&records[n++], HC_ALLOC_PAGES, w3_order(b, run->boot->max_order), GFP_HIGHMEM);
        }
        if (n == RECORDS_PER_CALL) {
            random_flush(run, records, n, &live, totals);
            (*calls)++;
            n = 0;
        }
    }
    /* The queued records, then everything still live, 64 frees per call. */
    while (n || live.len) {
        while (n < RECORDS_PER_CALL && live.len) {
            uint32_t entry = live.entries[--live.len];
            verify_block(LIVE_ADDR(entry), 1u << LIVE_ORDER(entry), run->seed);
            record(&records[n++], HC_FREE_PAGES, LIVE_ADDR(entry), LIVE_ORDER(entry));
        }
        random_flush(run, records, n, &live, totals);
        (*calls)++;
        n = 0;
    }
    live_destroy(&live, run);
}

void batch_run(struct run *run)
{
    uint32_t page = get_free_page(GFP_KERNEL);
    if (!CHECK(run, page != 0, "no page for the records"))
        return;
    struct hc_batch_record *records = phys_ptr(page);

    uint32_t churn_calls = 0, random_calls = 0;
    struct random_totals totals = { 0, 0, 0 };
    batch_churn(run, records, &churn_calls);
    batch_random(run, records, &random_calls, &totals);

    CHECK(run, free_page(page) == HC_OK, "free of the record page failed");
    summary(run, "churn ops=%u in %u calls; random ops=%u allocs=%u frees=%u enomem=%u in %u calls",
            run->ops, churn_calls, run->ops, totals.allocs, totals.frees, totals.enomem, random_calls);
}

void batchchurn_run(struct run *run)
{
    uint32_t page = get_free_page(GFP_KERNEL);
    if (!CHECK(run, page != 0, "no page for the records"))
        return;
    uint32_t calls = 0;
    batch_churn(run, phys_ptr(page), &calls);
    CHECK(run, free_page(page) == HC_OK, "free of the record page failed");
    summary(run, "ops=%u in %u calls", run->ops, calls);
}
