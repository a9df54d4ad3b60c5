/* The smallest kernel that speaks the buddy86 ABI: HELLO, MEMMAP (hand the host our RAM), ask for
 * one page, write it, read it back, free it, EXIT(0). Each failed step exits with its own code
 * (1..5) so the host's report says where it stopped. Everything it needs is in buddy86.h. */

#include "buddy86.h"

extern char __kernel_start[], __kernel_end[]; /* linker.ld: the whole image, stack included */

static void say(const char *s)
{
    for (; *s; s++) /* COM1's data register; v86's UART needs no setup to transmit */
        __asm__ __volatile__("outb %0, %1" : : "a"(*s), "Nd"((uint16_t)0x3F8));
}

static void __attribute__((noreturn)) finish(uint32_t code, const char *message)
{
    say(message);
    hc_call(HC_EXIT, code, 0, 0, 0);
    for (;;) /* EXIT does not return; if a host ever did, stop here */
        __asm__ __volatile__("cli; hlt");
}

void kernel_main(uint32_t info_addr)
{
    uint32_t status;
    hc_call(HC_HELLO, HC_ABI_VERSION, 0, 0, &status);
    if (status != HC_OK)
        finish(1, "minimal: HELLO failed\n");

    /* The host reads the memory map from the multiboot info and keeps the info, the map, the
     * cmdline and [__kernel_start, __kernel_end) out of the allocator. */
    uint32_t managed = hc_call(HC_MEMMAP, info_addr, (uint32_t)__kernel_start, (uint32_t)__kernel_end, &status);
    if (status != HC_OK || managed == 0)
        finish(2, "minimal: MEMMAP failed\n");

    uint32_t page = hc_call(HC_ALLOC_PAGES, 0, GFP_KERNEL, 0, &status);
    if (status != HC_OK)
        finish(3, "minimal: no page\n");

    volatile uint32_t *word = (volatile uint32_t *)page;
    for (uint32_t i = 0; i < HC_PAGE_SIZE / 4; i++)
        word[i] = page + 4 * i;
    for (uint32_t i = 0; i < HC_PAGE_SIZE / 4; i++) {
        if (word[i] != page + 4 * i)
            finish(4, "minimal: the page did not keep what was written\n");
    }

    hc_call(HC_FREE_PAGES, page, 0, 0, &status);
    if (status != HC_OK)
        finish(5, "minimal: FREE_PAGES failed\n");
    finish(0, "minimal: HELLO, MEMMAP, one page allocated, written, freed: ok\n");
}
