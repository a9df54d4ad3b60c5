/* Reads the multiboot v1 info: the cmdline and the memory map. Offsets come from buddy86.h, which
 * shares them with the host's MEMMAP; map entries are {size, addr64, len64, type} and each is
 * followed by `size` bytes, so we step by size + 4 as the spec says, never by sizeof. */

#include "boot.h"
#include "buddy86.h"
#include "lib.h"
#include "printf.h"

struct mmap_entry {
    uint32_t size; /* bytes that follow this field: 20 for v86 */
    uint64_t addr;
    uint64_t len;
    uint32_t type; /* MULTIBOOT_MMAP_TYPE_RAM (1) is usable */
} __attribute__((packed));

static uint32_t info_u32(uint32_t info_addr, uint32_t offset)
{
    return *(const volatile uint32_t *)phys_ptr(info_addr + offset);
}

/* Applies one "key=value" token of len bytes. Returns false for a bad value. */
static bool apply_token(const char *token, size_t len, struct boot_args *args)
{
    size_t key_len = 0;
    while (key_len < len && token[key_len] != '=')
        key_len++;
    const char *value = token + key_len + 1;
    size_t value_len = key_len < len ? len - key_len - 1 : 0;

    if (key_len == 8 && memcmp(token, "workload", 8) == 0) {
        if (value_len == 0 || value_len >= BOOT_WORKLOAD_MAX) {
            kprintf("cmdline: workload name must be 1..%u characters\n", BOOT_WORKLOAD_MAX - 1);
            return false;
        }
        memcpy(args->workload, value, value_len);
        args->workload[value_len] = '\0';
    } else if (key_len == 4 && memcmp(token, "seed", 4) == 0) {
        if (!parse_u32(value, value_len, &args->seed)) {
            kprintf("cmdline: seed must be a 32-bit number\n");
            return false;
        }
    } else if (key_len == 6 && memcmp(token, "warmup", 6) == 0) {
        if (!parse_u32(value, value_len, &args->warmup)) {
            kprintf("cmdline: warmup must be a 32-bit number\n");
            return false;
        }
    } else if (key_len == 3 && memcmp(token, "ops", 3) == 0) {
        if (!parse_u32(value, value_len, &args->ops) || args->ops == 0) {
            kprintf("cmdline: ops must be a number from 1 to 4294967295\n");
            return false;
        }
    } else {
        kprintf("cmdline: ignoring unknown option '");
        for (size_t i = 0; i < len; i++)
            kprintf("%c", token[i]);
        kprintf("'\n");
    }
    return true;
}

bool boot_parse_cmdline(uint32_t info_addr, struct boot_args *args)
{
    memcpy(args->workload, "demo", 5);
    args->seed = 1;
    args->ops = 0;
    args->warmup = 0;
    if (!(info_u32(info_addr, 0) & MULTIBOOT_INFO_FLAG_CMDLINE))
        return true;

    const char *s = phys_ptr(info_u32(info_addr, MULTIBOOT_INFO_CMDLINE));
    for (size_t i = 0; i < HC_LIMIT_CMDLINE_MAX && s[i];) {
        if (s[i] == ' ') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < HC_LIMIT_CMDLINE_MAX && s[i] && s[i] != ' ')
            i++;
        if (!apply_token(s + start, i - start, args))
            return false;
    }
    return true;
}

uint32_t boot_print_memory_map(uint32_t info_addr)
{
    if (!(info_u32(info_addr, 0) & MULTIBOOT_INFO_FLAG_MMAP)) {
        kprintf("boot: no memory map (multiboot flags bit 6 clear)\n");
        return 0;
    }
    uint32_t map_addr = info_u32(info_addr, MULTIBOOT_INFO_MMAP_ADDR);
    uint32_t map_end = map_addr + info_u32(info_addr, MULTIBOOT_INFO_MMAP_LENGTH);
    uint64_t ram_end = 0;

    for (uint32_t at = map_addr; at < map_end;) {
        const struct mmap_entry *e = phys_ptr(at);
        uint64_t end = e->addr + e->len;
        bool usable = e->type == MULTIBOOT_MMAP_TYPE_RAM;
        /* Every value fits in 32 bits on a v86 guest (RAM < 2 GiB); print the high halves only
         * if they are not zero, so a stranger map still reads correctly. */
        kprintf("boot: mem [%p-%p] %s", (void *)(uint32_t)e->addr, (void *)(uint32_t)(end - 1),
                usable ? "usable" : "reserved");
        if ((e->addr >> 32) || ((end - 1) >> 32))
            kprintf(" (above 4 GiB: high %x-%x)", (uint32_t)(e->addr >> 32), (uint32_t)((end - 1) >> 32));
        kprintf("\n");
        if (usable && end > ram_end)
            ram_end = end;
        at += e->size + 4;
    }
    return ram_end > 0xFFFFF000u ? 0xFFFFF000u : (uint32_t)ram_end;
}
