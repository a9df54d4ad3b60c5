/* hostile: the untrusted guest, as a test of the host. (1) Every malformed call docs/protocol.md
 * names, each checked for its exact status, EAX 0 (HELLO: the host's version), every register but
 * EAX and EBX unchanged, and, as far as STAT can see, an allocator left alone (free count and free
 * blocks per order); 8/16-bit reads and writes of the port. (2) A seeded stream of garbage register
 * values (run->ops calls), each checked against a small model of the ABI; blocks it gets are freed
 * at once. (3) A normal verified run: the random workload. EXITs 0 only if all held.
 * MEMMAP's structure checks only exist before MEMMAP, which kmain did first: after it, MEMMAP and
 * RESERVE must answer ESTATE, which is checked here; the host fuzzer covers the structures. */

#include "liveset.h"
#include "hc.h"
#include "printf.h"

#define NARROW_ACCESSES 5 /* the host counts each as a protocol error */
#define ANY_OF(a, b) ((1u << (a)) | (1u << (b)))
#define ONLY(a) (1u << (a))

/* Registers in and out of one raw call. EBP is the frame pointer and stays the compiler's. */
struct regs {
    uint32_t eax, ebx, ecx, edx, esi, edi;
};

/* One hypercall through the immediate-port `in`, so EDX can carry a sentinel too. */
static void raw_call(struct regs *r)
{
    __asm__ __volatile__("inl $0xE0, %%eax"
                         : "+a"(r->eax), "+b"(r->ebx), "+c"(r->ecx), "+d"(r->edx), "+S"(r->esi), "+D"(r->edi)
                         :
                         : "memory");
}

struct hostile {
    struct run *run;
    uint32_t max_order;
    uint32_t ram_end;   /* bytes of RAM (the end of the highest usable range) */
    uint32_t rng;
    uint32_t calls;     /* calls made and checked */
};

/* What STAT shows of the allocator: enough to see that a rejected call changed nothing. */
struct view {
    uint32_t free;
    uint32_t blocks[32];
};

static void look(const struct hostile *h, struct view *v)
{
    v->free = hc_stat(HC_STAT_FREE_PAGES, 0);
    for (uint32_t o = 0; o <= h->max_order && o < 32; o++)
        v->blocks[o] = hc_stat(HC_STAT_FREE_BLOCKS, o);
}

static bool same_view(const struct hostile *h, const struct view *a, const struct view *b)
{
    if (a->free != b->free)
        return false;
    for (uint32_t o = 0; o <= h->max_order && o < 32; o++)
        if (a->blocks[o] != b->blocks[o])
            return false;
    return true;
}

/* Makes a call with garbage in ECX/EDX/ESI/EDI where the ABI ignores them, checks the status is
 * one of `allowed` (a bit mask of statuses), EAX 0 on failure and the registers kept. Returns EAX. */
static uint32_t call_expect(struct hostile *h, const char *what, uint32_t cmd, uint32_t a0, uint32_t a1, uint32_t a2,
                            uint32_t allowed, uint32_t *status)
{
    struct regs r = { cmd, a0, a1, 0x5eed0000u ^ h->calls, a2, 0xd1d1d1d1u ^ h->calls };
    struct regs in = r;
    raw_call(&r);
    h->calls++;
    struct run *run = h->run;
    CHECK(run, r.ebx < 32 && (allowed & (1u << r.ebx)), "%s: status %u (allowed mask 0x%x)", what, r.ebx, allowed);
    if (r.ebx != HC_OK)
        CHECK(run, cmd == HC_HELLO ? r.eax == HC_ABI_VERSION : r.eax == 0, "%s: EAX 0x%x with status %u", what, r.eax, r.ebx);
    CHECK(run, r.ecx == in.ecx && r.edx == in.edx && r.esi == in.esi && r.edi == in.edi,
          "%s: the host changed ECX/EDX/ESI/EDI", what);
    if (status)
        *status = r.ebx;
    return r.eax;
}

/* A malformed call: exactly `want`, and the allocator as STAT sees it unchanged. */
static void reject(struct hostile *h, const char *what, uint32_t cmd, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t want)
{
    struct view before, after;
    look(h, &before);
    call_expect(h, what, cmd, a0, a1, a2, ONLY(want), NULL);
    look(h, &after);
    CHECK(h->run, want == HC_ENOMEM ? before.free == after.free : same_view(h, &before, &after),
          "%s: rejected with %u but the allocator changed (free %u -> %u)", what, want, before.free, after.free);
}

/* (1) Every malformed call the ABI names. */
static void malformed(struct hostile *h)
{
    struct run *run = h->run;
    uint32_t max = h->max_order, st;
    uint32_t image = (uint32_t)(uintptr_t)__kernel_start;

    /* Blocks to aim at: an order-2 block, an order-0 page (also the scratch page), a 3-frame range. */
    uint32_t block = hc_alloc_pages(2, GFP_KERNEL, &st);
    uint32_t page = hc_alloc_pages(0, GFP_KERNEL, NULL);
    uint32_t range = hc_alloc_contig(3, 1, GFP_KERNEL, NULL);
    if (!CHECK(run, block && page && range, "hostile: cannot get the target blocks"))
        return;
    uint32_t freed = hc_alloc_pages(0, GFP_KERNEL, NULL);
    CHECK(run, free_page(freed) == HC_OK, "free of a scratch page");

    /* HELLO with versions the host does not speak; MEMMAP and RESERVE after MEMMAP. */
    reject(h, "HELLO(0)", HC_HELLO, 0, 0, 0, HC_EVERSION);
    reject(h, "HELLO(2)", HC_HELLO, 2, 0, 0, HC_EVERSION);
    reject(h, "HELLO(~0)", HC_HELLO, 0xFFFFFFFFu, 0, 0, HC_EVERSION);
    reject(h, "MEMMAP twice", HC_MEMMAP, 0x7C00, image, image + PAGE_SIZE, HC_ESTATE);
    reject(h, "MEMMAP garbage", HC_MEMMAP, 0xFFFFFFF0u, 5, 1, HC_ESTATE);
    reject(h, "RESERVE after MEMMAP", HC_RESERVE, block, PAGE_SIZE, 0, HC_ESTATE);
    reject(h, "RESERVE length 0 after MEMMAP", HC_RESERVE, 0, 0, 0, HC_ESTATE);

    /* Unknown commands, near and far from known ones. */
    static const uint32_t unknown[] = { 0x03, 0x0F, 0x14, 0x1F, 0x22, 0x2F, 0x31, 0x3E, 0x40, 0xFF, 0x80000010u, 0xFFFFFFFFu };
    for (uint32_t i = 0; i < ARRAY_SIZE(unknown); i++)
        reject(h, "unknown command", unknown[i], block, 0, 0, HC_ENOSYS);

    /* ALLOC_PAGES: orders above max, unknown GFP bits, GFP_DMA|GFP_HIGHMEM. */
    reject(h, "ALLOC order max+1", HC_ALLOC_PAGES, max + 1, GFP_KERNEL, 0, HC_EINVAL);
    reject(h, "ALLOC order 2^31", HC_ALLOC_PAGES, 0x80000000u, GFP_KERNEL, 0, HC_EINVAL);
    reject(h, "ALLOC order ~0", HC_ALLOC_PAGES, 0xFFFFFFFFu, GFP_KERNEL, 0, HC_EINVAL);
    static const uint32_t bad_gfp[] = { GFP_DMA | GFP_HIGHMEM, GFP_DMA | GFP_HIGHMEM | GFP_ZERO, 0x4, 0x80, 0x200, 0x80000000u, 0xFFFFFFFFu };
    for (uint32_t i = 0; i < ARRAY_SIZE(bad_gfp); i++)
        reject(h, "ALLOC bad gfp", HC_ALLOC_PAGES, 0, bad_gfp[i], 0, HC_EINVAL);

    /* FREE_PAGES: EINVAL first, then EFAULT, then the frame's state. */
    reject(h, "FREE order max+1 (bad address too)", HC_FREE_PAGES, block + 1, max + 1, 0, HC_EINVAL);
    reject(h, "FREE unaligned", HC_FREE_PAGES, block + 1, 2, 0, HC_EFAULT);
    reject(h, "FREE unaligned by 0x800", HC_FREE_PAGES, block + 0x800, 2, 0, HC_EFAULT);
    reject(h, "FREE of frame 0", HC_FREE_PAGES, 0, 0, 0, HC_EFAULT);
    reject(h, "FREE in the VGA hole", HC_FREE_PAGES, 0xA0000, 0, 0, HC_EFAULT);
    reject(h, "FREE of the kernel image", HC_FREE_PAGES, image, 0, 0, HC_EFAULT);
    reject(h, "FREE past the end of RAM", HC_FREE_PAGES, h->ram_end, 0, 0, HC_EFAULT);
    reject(h, "FREE near 4 GiB", HC_FREE_PAGES, 0xFFFFF000u, 0, 0, HC_EFAULT);
    reject(h, "double FREE", HC_FREE_PAGES, freed, 0, 0, HC_EDOUBLEFREE);
    reject(h, "FREE of an interior frame", HC_FREE_PAGES, block + PAGE_SIZE, 0, 0, HC_ENOTHEAD);
    reject(h, "FREE with the wrong order", HC_FREE_PAGES, block, 1, 0, HC_EBADORDER);
    reject(h, "FREE_PAGES of a contig range", HC_FREE_PAGES, range, 0, 0, HC_EBADORDER);
    reject(h, "FREE_PAGES inside a contig range", HC_FREE_PAGES, range + PAGE_SIZE, 0, 0, HC_ENOTHEAD);

    /* ALLOC_CONTIG: npages 0, alignments that are no power of two, bad gfp; valid requests no zone
     * can meet (any npages longer than memory) are ENOMEM. */
    reject(h, "ALLOC_CONTIG 0 pages", HC_ALLOC_CONTIG, 0, 1, GFP_KERNEL, HC_EINVAL);
    reject(h, "ALLOC_CONTIG 2^20+1 pages", HC_ALLOC_CONTIG, (1u << 20) + 1, 1, GFP_KERNEL, HC_ENOMEM);
    reject(h, "ALLOC_CONTIG ~0 pages", HC_ALLOC_CONTIG, 0xFFFFFFFFu, 1, GFP_KERNEL, HC_ENOMEM);
    reject(h, "ALLOC_CONTIG align 3", HC_ALLOC_CONTIG, 1, 3, GFP_KERNEL, HC_EINVAL);
    reject(h, "ALLOC_CONTIG align ~0", HC_ALLOC_CONTIG, 1, 0xFFFFFFFFu, GFP_KERNEL, HC_EINVAL);
    reject(h, "ALLOC_CONTIG bad gfp", HC_ALLOC_CONTIG, 1, 1, 0x8, HC_EINVAL);
    reject(h, "ALLOC_CONTIG 2^20 pages", HC_ALLOC_CONTIG, 1u << 20, 1, GFP_KERNEL, HC_ENOMEM);
    reject(h, "ALLOC_CONTIG align 2^31", HC_ALLOC_CONTIG, 1, 0x80000000u, GFP_KERNEL, HC_ENOMEM);

    /* FREE_CONTIG. */
    reject(h, "FREE_CONTIG 0 pages", HC_FREE_CONTIG, range, 0, 0, HC_EINVAL);
    reject(h, "FREE_CONTIG 2^20+1 pages", HC_FREE_CONTIG, range, (1u << 20) + 1, 0, HC_EBADORDER);
    reject(h, "FREE_CONTIG unaligned", HC_FREE_CONTIG, range + 4, 3, 0, HC_EFAULT);
    reject(h, "FREE_CONTIG wrong npages", HC_FREE_CONTIG, range, 2, 0, HC_EBADORDER);
    reject(h, "FREE_CONTIG of an alloc_pages block", HC_FREE_CONTIG, block, 4, 0, HC_EBADORDER);
    reject(h, "FREE_CONTIG inside a range", HC_FREE_CONTIG, range + PAGE_SIZE, 2, 0, HC_ENOTHEAD);
    reject(h, "FREE_CONTIG of a free frame", HC_FREE_CONTIG, freed, 1, 0, HC_EDOUBLEFREE);
    reject(h, "FREE_CONTIG past RAM", HC_FREE_CONTIG, 0xFFFFF000u, 1, 0, HC_EFAULT);

    /* STAT: unknown items, an order above max. */
    reject(h, "STAT item 5", HC_STAT, 5, 0, 0, HC_EINVAL);
    reject(h, "STAT item ~0", HC_STAT, 0xFFFFFFFFu, 0, 0, HC_EINVAL);
    reject(h, "STAT free blocks of order max+1", HC_STAT, HC_STAT_FREE_BLOCKS, max + 1, 0, HC_EINVAL);

    /* MARK: 64 bytes without a NUL (in our page), a pointer at or past the end of RAM, into the VGA
     * window, near 4 GiB; a 63-byte label is fine. */
    char *label = phys_ptr(page);
    memset(label, 'A', PAGE_SIZE);
    reject(h, "MARK unterminated", HC_MARK, page, 0, 0, HC_EINVAL);
    label[63] = 0;
    call_expect(h, "MARK of 63 bytes", HC_MARK, page, 0, 0, ONLY(HC_OK), NULL);
    reject(h, "MARK at the end of RAM", HC_MARK, h->ram_end, 0, 0, HC_EFAULT);
    reject(h, "MARK in the VGA window", HC_MARK, 0xA0000, 0, 0, HC_EFAULT);
    reject(h, "MARK near 4 GiB", HC_MARK, 0xFFFFFFF0u, 0, 0, HC_EFAULT);

    /* BATCH: counts 0 and above 4096 (EINVAL before EFAULT), arrays outside RAM, across its end,
     * into the VGA window, wrapping past 4 GiB. */
    struct hc_batch_record *rec = phys_ptr(page);
    memset(rec, 0, PAGE_SIZE);
    reject(h, "BATCH count 0", HC_BATCH, page, 0, 0, HC_EINVAL);
    reject(h, "BATCH count 4097", HC_BATCH, page, HC_LIMIT_BATCH_MAX_RECORDS + 1, 0, HC_EINVAL);
    reject(h, "BATCH count ~0 at a bad address", HC_BATCH, 0xFFFFFFF0u, 0xFFFFFFFFu, 0, HC_EINVAL);
    reject(h, "BATCH array near 4 GiB", HC_BATCH, 0xFFFFFFF0u, 1, 0, HC_EFAULT);
    reject(h, "BATCH array wrapping past 4 GiB", HC_BATCH, 0xFFFFFF00u, 32, 0, HC_EFAULT);
    reject(h, "BATCH array across the end of RAM", HC_BATCH, h->ram_end - 8, 1, 0, HC_EFAULT);
    reject(h, "BATCH array in the VGA window", HC_BATCH, 0xA0000, 1, 0, HC_EFAULT);
    reject(h, "BATCH array of 4096 records past the end", HC_BATCH, h->ram_end - 16 * 4095, 4096, 0, HC_EFAULT);

    /* BATCH records the host must refuse one by one; the good one between them still runs. */
    static const uint16_t bad_cmd[] = { HC_HELLO, HC_MEMMAP, HC_EXIT, HC_ALLOC_CONTIG, HC_BATCH, 0xFFFF };
    uint32_t n = 0;
    for (uint32_t i = 0; i < ARRAY_SIZE(bad_cmd); i++)
        rec[n++] = (struct hc_batch_record){ .cmd = bad_cmd[i], .status = 0xEEEE, .arg0 = 1, .result = 0xEEEEEEEEu };
    rec[n++] = (struct hc_batch_record){ .cmd = HC_ALLOC_PAGES, .arg0 = max + 1 };
    rec[n++] = (struct hc_batch_record){ .cmd = HC_ALLOC_PAGES, .arg1 = GFP_DMA | GFP_HIGHMEM };
    rec[n++] = (struct hc_batch_record){ .cmd = HC_FREE_PAGES, .arg0 = block + PAGE_SIZE };
    rec[n++] = (struct hc_batch_record){ .cmd = HC_FREE_PAGES, .arg0 = freed };
    rec[n++] = (struct hc_batch_record){ .cmd = HC_STAT, .arg0 = HC_STAT_MANAGED_PAGES };
    static const uint16_t want[] = { HC_EINVAL, HC_EINVAL, HC_EINVAL, HC_EINVAL, HC_EINVAL, HC_EINVAL, HC_EINVAL, HC_EINVAL,
                                     HC_ENOTHEAD, HC_EDOUBLEFREE, HC_OK };
    uint32_t ok = call_expect(h, "BATCH of refused records", HC_BATCH, page, n, 0, ONLY(HC_OK), NULL);
    CHECK(run, ok == 1, "BATCH of refused records: %u ended OK, expected 1", ok);
    for (uint32_t i = 0; i < n; i++) {
        CHECK(run, rec[i].status == want[i], "BATCH record %u (cmd 0x%x): status %u, expected %u", i, rec[i].cmd, rec[i].status, want[i]);
        CHECK(run, rec[i].status == HC_OK || rec[i].result == 0, "BATCH record %u: result 0x%x on failure", i, rec[i].result);
    }

    /* 8- and 16-bit reads give all ones; writes of any width are ignored. */
    uint8_t b8;
    uint16_t b16;
    __asm__ __volatile__("inb $0xE0, %0" : "=a"(b8));
    __asm__ __volatile__("inw $0xE0, %0" : "=a"(b16));
    __asm__ __volatile__("outb %0, $0xE0" : : "a"((uint8_t)0x10));
    __asm__ __volatile__("outw %0, $0xE0" : : "a"((uint16_t)0x10));
    __asm__ __volatile__("outl %0, $0xE0" : : "a"((uint32_t)HC_EXIT));
    CHECK(run, b8 == 0xFF && b16 == 0xFFFF, "narrow reads gave 0x%x and 0x%x", b8, b16);

    CHECK(run, free_pages(block, 2) == HC_OK, "free of the order-2 target");
    CHECK(run, free_page(page) == HC_OK, "free of the scratch page");
    CHECK(run, free_contig(range, 3) == HC_OK, "free of the target range");
}

/* The statuses a garbage call may get, as far as the guest can tell without the host's map. */
static uint32_t predict(const struct hostile *h, uint32_t cmd, uint32_t a0, uint32_t a1, uint32_t a2)
{
    bool gfp_ok_1 = (a1 & ~(uint32_t)(GFP_DMA | GFP_HIGHMEM | GFP_ZERO)) == 0 && (a1 & 3) != 3;
    bool gfp_ok_2 = (a2 & ~(uint32_t)(GFP_DMA | GFP_HIGHMEM | GFP_ZERO)) == 0 && (a2 & 3) != 3;
    /* A free of memory the guest does not hold (it holds nothing here): never OK. */
    uint32_t free_status = (a0 & PAGE_MASK) || a0 >= h->ram_end ? ONLY(HC_EFAULT) : ANY_OF(HC_EFAULT, HC_EDOUBLEFREE);
    switch (cmd) {
    case HC_HELLO:
        return a0 == HC_ABI_VERSION ? ONLY(HC_OK) : ONLY(HC_EVERSION);
    case HC_MEMMAP:
    case HC_RESERVE:
        return ONLY(HC_ESTATE);
    case HC_ALLOC_PAGES:
        return a0 > h->max_order || !gfp_ok_1 ? ONLY(HC_EINVAL) : ANY_OF(HC_OK, HC_ENOMEM);
    case HC_FREE_PAGES:
        return a1 > h->max_order ? ONLY(HC_EINVAL) : free_status;
    case HC_ALLOC_CONTIG:
        return a0 == 0 || (a1 & (a1 - 1)) != 0 || !gfp_ok_2 ? ONLY(HC_EINVAL) : ANY_OF(HC_OK, HC_ENOMEM);
    case HC_FREE_CONTIG:
        return a1 == 0 ? ONLY(HC_EINVAL) : free_status;
    case HC_STAT:
        return a0 <= 2 || a0 == 4 || (a0 == 3 && a1 <= h->max_order) ? ONLY(HC_OK) : ONLY(HC_EINVAL);
    case HC_MARK:
        return ONLY(HC_EFAULT); /* only pointers at or past the end of RAM are sent */
    case HC_BATCH:
        return a1 == 0 || a1 > HC_LIMIT_BATCH_MAX_RECORDS ? ONLY(HC_EINVAL) : ONLY(HC_EFAULT); /* arrays outside RAM only */
    default:
        return ONLY(HC_ENOSYS);
    }
}

/* A register value: mostly small or page-shaped numbers near the interesting limits, sometimes anything. */
static uint32_t garbage(struct hostile *h)
{
    uint32_t r = xorshift32(&h->rng), v = xorshift32(&h->rng);
    switch (r & 7) {
    case 0:
        return v;
    case 1:
        return v & 0x1F;
    case 2:
        return scale_u32(v, h->ram_end) & ~(uint32_t)PAGE_MASK;
    case 3:
        return scale_u32(v, h->ram_end);
    case 4:
        return 0xFFFFFFFFu - (v & 0xFFF);
    case 5:
        return 1u << (v & 31);
    case 6:
        return v & 0x1FF;
    default:
        return h->ram_end + (v & 0xFFFF);
    }
}

/* (2) run->ops calls with garbage registers, checked against predict(); OK allocations are freed. */
static uint32_t garbage_stream(struct hostile *h, uint32_t count)
{
    static const uint32_t commands[] = { HC_HELLO, HC_MEMMAP, HC_RESERVE, HC_ALLOC_PAGES, HC_FREE_PAGES, HC_ALLOC_CONTIG,
                                         HC_FREE_CONTIG, HC_STAT, HC_MARK, HC_BATCH };
    struct run *run = h->run;
    uint32_t free_before = hc_stat(HC_STAT_FREE_PAGES, 0), got = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t pick = xorshift32(&h->rng);
        uint32_t cmd = pick % 5 == 0 ? garbage(h) : commands[scale_u32(pick, ARRAY_SIZE(commands))];
        if (cmd == HC_EXIT)
            cmd = HC_STAT;
        uint32_t a0 = garbage(h), a1 = garbage(h), a2 = garbage(h);
        /* Half the allocations get plausible arguments, so that some succeed (and are freed). */
        static const uint32_t gfps[] = { GFP_KERNEL, GFP_DMA, GFP_HIGHMEM, GFP_ZERO, GFP_HIGHMEM | GFP_ZERO };
        if (cmd == HC_ALLOC_PAGES && (pick & 0x100)) {
            a0 &= 0xF;
            a1 = gfps[a1 % ARRAY_SIZE(gfps)];
        }
        if (cmd == HC_ALLOC_CONTIG && (pick & 0x100)) {
            a0 &= 0x3F;
            a1 &= 0x1F;
            a2 = gfps[a2 % ARRAY_SIZE(gfps)];
        }
        if (cmd == HC_MARK)
            a0 = h->ram_end + (a0 & 0xFFFF); /* a label anywhere in RAM could be anything */
        if (cmd == HC_BATCH && a1 != 0 && a1 <= HC_LIMIT_BATCH_MAX_RECORDS)
            a0 = h->ram_end - 8 + (a0 & 0xFF); /* records in RAM would run whatever RAM holds */
        char what[48];
        ksnprintf(what, sizeof(what), "garbage call %u cmd 0x%x", i, cmd);
        uint32_t status;
        uint32_t result = call_expect(h, what, cmd, a0, a1, a2, predict(h, cmd, a0, a1, a2), &status);
        if (status != HC_OK)
            continue;
        if (cmd == HC_ALLOC_PAGES) {
            CHECK(run, (result & ((PAGE_SIZE << a0) - 1)) == 0, "%s: block 0x%x unaligned", what, result);
            CHECK(run, free_pages(result, a0) == HC_OK, "%s: free of 0x%x", what, result);
            got++;
        } else if (cmd == HC_ALLOC_CONTIG) {
            CHECK(run, free_contig(result, a0) == HC_OK, "%s: free of the range 0x%x", what, result);
            got++;
        }
    }
    CHECK(run, hc_stat(HC_STAT_FREE_PAGES, 0) == free_before, "garbage stream: free count changed");
    return got;
}

void hostile_run(struct run *run)
{
    const struct boot_info *boot = run->boot;
    struct hostile h = { .run = run, .max_order = boot->max_order, .ram_end = boot->ram_end_addr, .rng = w3_state(run->seed) };
    malformed(&h);
    uint32_t malformed_calls = h.calls;
    uint32_t got = garbage_stream(&h, run->ops);

    /* (3) A normal verified run, with everything above behind it. */
    struct run normal = { .name = "hostile/random", .boot = boot, .seed = run->seed, .ops = run->ops };
    random_run(&normal);
    run->failures += normal.failures;
    summary(run, "malformed=%u garbage=%u (%u blocks got and freed) narrow=%u then random ops=%u", malformed_calls,
            h.calls - malformed_calls, got, NARROW_ACCESSES, run->ops);
}
