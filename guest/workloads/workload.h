/* The workload table and what every workload shares: the run context, CHECK(), the summary line,
 * and block stamping. Adding a workload is one line in WORKLOADS below plus its file, which
 * defines NAME_run(struct run *). */
#ifndef GUEST_WORKLOAD_H
#define GUEST_WORKLOAD_H

#include "kernel.h"
#include "lib.h"

/* X(name, in_demo, default_ops, description). demo runs every in_demo workload in this order. */
#define WORKLOADS(X)                                                                            \
    X(churn, true, 10000, "ops x (get_free_page; free_page)")                                   \
    X(fill, true, 0, "order-0 GFP_HIGHMEM pages until ENOMEM, write each, free all")            \
    X(random, true, 10000, "the W3 stream: random orders and frees, every block stamped")      \
    X(pagetable, true, 2048, "page tables from allocated frames, paging on, verify, paging off") \
    X(contig, true, 0, "ALLOC_CONTIG alignments and long runs, DMA, HighMem, GFP_ZERO")         \
    X(batch, true, 10000, "churn and random through BATCH, 64 records per call")               \
    X(batchchurn, false, 10000, "churn alone through BATCH, 64 records per call (the benchmark)") \
    X(hostile, false, 2000, "every malformed call, a seeded garbage stream, then a verified random run") \
    X(uaf, false, 0, "a deliberate use after free, for buddy86 boot --poison")                    \
    X(demo, false, 1000, "a short run of each workload above, with MARKs between phases")

/* One run of one workload. Workloads count their failed checks in failures. */
struct run {
    const char *name;              /* the workload's name, prefixed to its messages */
    const struct boot_info *boot;  /* what the kernel learned at boot */
    uint32_t seed;                 /* cmdline seed= (default 1) */
    uint32_t ops;                  /* cmdline ops=, or the workload's default */
    uint32_t warmup;               /* cmdline warmup=: ops of a first, untimed run (0: none) */
    uint32_t failures;             /* failed CHECKs so far */
};

struct workload {
    const char *name;
    bool in_demo;
    uint32_t default_ops;          /* 0 for workloads whose size does not depend on ops */
    const char *description;
    void (*run)(struct run *run);
};

#define WORKLOAD_DECLARE(name, in_demo, ops, text) void name##_run(struct run *run);
WORKLOADS(WORKLOAD_DECLARE)
#undef WORKLOAD_DECLARE

extern const struct workload workload_table[];
extern const uint32_t workload_count;

/* The workload with that name, or NULL. */
const struct workload *workload_find(const char *name);

/* Prints every workload with its description (for an unknown name). */
void workload_list(void);

/* Runs one workload between MARK("phase:NAME") and a leak check: STAT's free count must be the
 * same after the run as before. With run->warmup, a first run of that many ops comes before, after
 * MARK("warmup:NAME"): it lets v86 compile the workload's loop before the phase a host times.
 * Returns the failures of both runs (the leak checks included). */
uint32_t workload_run(const struct workload *workload, struct run *run);

/* Counts a failed check and prints "NAME: FAIL <message>" (only the first few, to keep the log
 * readable). Returns false, so that CHECK() can be used as a condition. */
bool check_failed(struct run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define CHECK(run, cond, ...) ((cond) ? true : check_failed((run), __VA_ARGS__))

/* Prints the workload's one-line result: "NAME: PASS <details>" or "NAME: FAIL (n failed) ...". */
void summary(const struct run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stamps every 32-bit word of the pages [addr, addr + pages * 4096): word = its address ^ key. */
void stamp_block(uint32_t addr, uint32_t pages, uint32_t key);

/* Checks a stamped block. On the first wrong word prints "corruption at 0x.. expected 0x..
 * found 0x.." and EXITs with EXIT_CORRUPTION: a block that lost its stamp means the allocator
 * handed the same frame out twice, or zeroed or moved memory it did not own. */
void verify_block(uint32_t addr, uint32_t pages, uint32_t key);

/* True when [addr, addr + pages * 4096) lies inside one zone (DMA, Normal, HighMem). */
bool in_one_zone(uint32_t addr, uint32_t pages);

#define PAGE_SIZE HC_PAGE_SIZE
#define PAGE_SHIFT HC_PAGE_SHIFT
#define PAGE_MASK (PAGE_SIZE - 1)

#endif /* GUEST_WORKLOAD_H */
