/* pagetable: the allocator's frames used the way a kernel uses them. Build a two-level x86 page
 * table (a page directory and page tables, all frames from the host), map ops data frames at
 * 0xC0000000 and up, and identity-map the low memory the kernel runs in plus every data frame.
 * Turn paging on, write each data page through its virtual address, verify the bytes through the
 * identity-mapped physical side, turn paging off, check the MMU's accessed/dirty bits, free all.
 * While paging is on: no hypercall that passes a pointer, and only kernel and data pages touched. */

#include "workload.h"
#include "hc.h"
#include "x86.h"

#define PTE_PRESENT 0x001u
#define PTE_WRITABLE 0x002u
#define PTE_ACCESSED 0x020u
#define PTE_DIRTY 0x040u
#define PTE_FLAGS_MASK 0xFFFu
#define ENTRIES 1024            /* per page directory or page table */
#define DATA_VA 0xC0000000u     /* where the data frames are mapped */
#define MAX_DATA_PAGES 2048     /* 8 MiB of virtual space: two page tables */

static uint32_t data_frames[MAX_DATA_PAGES]; /* in .bss, so identity-mapped with the kernel */

struct space {
    uint32_t *pd;        /* the page directory (a physical frame) */
    uint32_t tables;     /* page tables allocated */
};

/* Maps va -> pa (4 KiB, writable), allocating the page table on first use.
 * Returns false when no frame is left for a page table. */
static bool map_page(struct space *space, uint32_t va, uint32_t pa)
{
    uint32_t *pde = &space->pd[va >> 22];
    if (!(*pde & PTE_PRESENT)) {
        uint32_t table = get_free_page(GFP_KERNEL | GFP_ZERO);
        if (!table)
            return false;
        *pde = table | PTE_PRESENT | PTE_WRITABLE;
        space->tables++;
    }
    uint32_t *pt = phys_ptr(*pde & ~PTE_FLAGS_MASK);
    pt[(va >> 12) & (ENTRIES - 1)] = pa | PTE_PRESENT | PTE_WRITABLE;
    return true;
}

/* The page table entry for va (paging off), or NULL when its table is missing. */
static uint32_t *pte_of(const struct space *space, uint32_t va)
{
    uint32_t pde = space->pd[va >> 22];
    return (pde & PTE_PRESENT) ? (uint32_t *)phys_ptr(pde & ~PTE_FLAGS_MASK) + ((va >> 12) & (ENTRIES - 1)) : NULL;
}

/* Allocates up to want data frames and maps each twice: at DATA_VA + i pages and at itself.
 * Returns how many it mapped; stops early (not an error) when memory runs out. */
static uint32_t map_data(struct run *run, struct space *space, uint32_t want)
{
    uint32_t n = 0;
    for (; n < want; n++) {
        uint32_t frame = get_free_page(GFP_HIGHMEM);
        if (!frame)
            break;
        data_frames[n] = frame;
        if (!CHECK(run, map_page(space, DATA_VA + n * PAGE_SIZE, frame) && map_page(space, frame, frame),
                   "no frame for a page table after %u data pages", n)) {
            n++; /* the frame is in data_frames and may be in a PTE: free it with the others */
            break;
        }
    }
    return n;
}

/* The part that runs with paging on: write through DATA_VA, read back through the identity map.
 * Returns the number of mismatching words. volatile: the compiler cannot see that two
 * addresses reach one frame. */
static uint32_t write_and_verify(const struct space *space, uint32_t n, uint32_t key)
{
    uint32_t bad = 0;
    write_cr3((uint32_t)(uintptr_t)space->pd);
    write_cr0(read_cr0() | CR0_PG);
    for (uint32_t i = 0; i < n; i++) {
        volatile uint32_t *virt = (volatile uint32_t *)(DATA_VA + i * PAGE_SIZE);
        for (uint32_t w = 0; w < ENTRIES; w++)
            virt[w] = (DATA_VA + i * PAGE_SIZE + 4 * w) ^ key;
    }
    for (uint32_t i = 0; i < n; i++) {
        volatile const uint32_t *phys = phys_ptr(data_frames[i]);
        for (uint32_t w = 0; w < ENTRIES; w++)
            bad += phys[w] != ((DATA_VA + i * PAGE_SIZE + 4 * w) ^ key);
    }
    write_cr0(read_cr0() & ~CR0_PG);
    write_cr3(0);
    return bad;
}

void pagetable_run(struct run *run)
{
    struct space space = { .pd = phys_ptr(get_free_page(GFP_KERNEL | GFP_ZERO)) };
    if (!CHECK(run, space.pd != NULL, "no frame for the page directory"))
        return;
    /* Identity-map the kernel's low memory: the multiboot info (0x7C00) through the end of the
     * image (code, data, IDT, GDT, stack). Page 0 stays unmapped to catch NULL. */
    bool mapped = true;
    for (uint32_t va = PAGE_SIZE; va < (uint32_t)(uintptr_t)__kernel_end; va += PAGE_SIZE)
        mapped = mapped && map_page(&space, va, va);
    CHECK(run, mapped, "no frame for the kernel's page table");

    /* Leave room for the page tables: at most half of what is free becomes data. */
    uint32_t want = MIN(MIN(run->ops, MAX_DATA_PAGES), hc_stat(HC_STAT_FREE_PAGES, 0) / 2);
    uint32_t n = mapped ? map_data(run, &space, want) : 0;
    CHECK(run, n == want, "mapped %u of %u data pages", n, want);

    uint32_t key = run->seed;
    uint32_t bad = n ? write_and_verify(&space, n, key) : 0;
    CHECK(run, bad == 0, "%u words read through the identity map differ from what was written", bad);

    /* Paging is off again: the MMU must have marked each data PTE accessed and dirty, and the
     * bytes must still be there. */
    uint32_t not_dirty = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *pte = pte_of(&space, DATA_VA + i * PAGE_SIZE);
        not_dirty += !pte || (*pte & (PTE_ACCESSED | PTE_DIRTY)) != (PTE_ACCESSED | PTE_DIRTY);
    }
    CHECK(run, not_dirty == 0, "%u data PTEs lack the accessed/dirty bits", not_dirty);
    if (n)
        CHECK(run, *(uint32_t *)phys_ptr(data_frames[n - 1]) == ((DATA_VA + (n - 1) * PAGE_SIZE) ^ key),
              "last data page lost its contents after paging was turned off");

    /* Free the data frames, then every page table the directory points to, then the directory. */
    uint32_t failed = 0;
    for (uint32_t i = 0; i < n; i++)
        failed += free_page(data_frames[i]) != HC_OK;
    for (uint32_t i = 0; i < ENTRIES; i++) {
        if (space.pd[i] & PTE_PRESENT)
            failed += free_page(space.pd[i] & ~PTE_FLAGS_MASK) != HC_OK;
    }
    failed += free_page((uint32_t)(uintptr_t)space.pd) != HC_OK;
    CHECK(run, failed == 0, "%u frees failed", failed);
    summary(run, "data pages=%u at %p, page tables=%u, words verified=%u", n, (void *)DATA_VA,
            space.tables, n * ENTRIES);
}
