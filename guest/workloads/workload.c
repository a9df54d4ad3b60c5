/* The workload table (built from WORKLOADS in workload.h), the runner with its leak check, and
 * the helpers every workload uses to check things and report them. */

#include "workload.h"
#include "hc.h"
#include "printf.h"

#define MAX_REPORTED_FAILURES 10 /* per run; later failures are counted, not printed */

#define WORKLOAD_ENTRY(id, demo, ops, text) { #id, demo, ops, text, id##_run },
const struct workload workload_table[] = { WORKLOADS(WORKLOAD_ENTRY) };
#undef WORKLOAD_ENTRY
const uint32_t workload_count = ARRAY_SIZE(workload_table);

const struct workload *workload_find(const char *name)
{
    for (uint32_t i = 0; i < workload_count; i++) {
        if (strcmp(workload_table[i].name, name) == 0)
            return &workload_table[i];
    }
    return NULL;
}

void workload_list(void)
{
    kprintf("workloads:\n");
    for (uint32_t i = 0; i < workload_count; i++)
        kprintf("  %-10s %s\n", workload_table[i].name, workload_table[i].description);
}

/* One run between MARK("PREFIX:NAME") and the leak check. */
static void run_marked(const struct workload *workload, struct run *run, const char *prefix)
{
    char label[HC_LIMIT_MARK_LABEL_MAX + 1];
    ksnprintf(label, sizeof(label), "%s:%s", prefix, workload->name);
    hc_mark(label);

    uint32_t free_before = hc_stat(HC_STAT_FREE_PAGES, 0);
    workload->run(run);
    uint32_t free_after = hc_stat(HC_STAT_FREE_PAGES, 0);
    CHECK(run, free_after == free_before, "leak: %u free pages before the run, %u after",
          free_before, free_after);
}

uint32_t workload_run(const struct workload *workload, struct run *run)
{
    if (run->warmup) {
        struct run warm = *run;
        warm.ops = run->warmup;
        warm.warmup = 0;
        run_marked(workload, &warm, "warmup");
        run->failures += warm.failures;
    }
    run_marked(workload, run, "phase");
    return run->failures;
}

bool check_failed(struct run *run, const char *fmt, ...)
{
    run->failures++;
    if (run->failures <= MAX_REPORTED_FAILURES) {
        va_list ap;
        va_start(ap, fmt);
        kprintf("%s: FAIL ", run->name);
        kvprintf(fmt, ap);
        kprintf("\n");
        va_end(ap);
    } else if (run->failures == MAX_REPORTED_FAILURES + 1) {
        kprintf("%s: more failures follow, not printed\n", run->name);
    }
    return false;
}

void summary(const struct run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (run->failures)
        kprintf("%s: FAIL (%u failed) ", run->name, run->failures);
    else
        kprintf("%s: PASS ", run->name);
    kvprintf(fmt, ap);
    kprintf("\n");
    va_end(ap);
}

void stamp_block(uint32_t addr, uint32_t pages, uint32_t key)
{
    uint32_t *word = phys_ptr(addr);
    uint32_t words = pages << (PAGE_SHIFT - 2);
    for (uint32_t i = 0; i < words; i++)
        word[i] = (addr + 4 * i) ^ key;
}

void verify_block(uint32_t addr, uint32_t pages, uint32_t key)
{
    const uint32_t *word = phys_ptr(addr);
    uint32_t words = pages << (PAGE_SHIFT - 2);
    for (uint32_t i = 0; i < words; i++) {
        uint32_t expected = (addr + 4 * i) ^ key;
        if (word[i] != expected) {
            kprintf("corruption at 0x%08x expected 0x%08x found 0x%08x\n", addr + 4 * i,
                    expected, word[i]);
            hc_exit(EXIT_CORRUPTION);
        }
    }
}

/* The zone a byte address belongs to: 0 DMA, 1 Normal, 2 HighMem. */
static int zone_of(uint32_t addr)
{
    return addr < HC_ZONE_DMA_END ? 0 : addr < HC_ZONE_NORMAL_END ? 1 : 2;
}

bool in_one_zone(uint32_t addr, uint32_t pages)
{
    return zone_of(addr) == zone_of(addr + (pages << PAGE_SHIFT) - 1);
}
