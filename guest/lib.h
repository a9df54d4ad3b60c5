/* The guest's tiny C library: memory and string helpers (gcc may call memset/memcpy on its own,
 * even freestanding), number parsing, and the xorshift32 generator the workloads share.
 * There is no libgcc for -m32 here: 64-bit multiplies are fine, 64-bit divisions are not. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

void *memset(void *dst, int byte, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* Parses a decimal or 0x-prefixed hex number of exactly len characters into *value.
 * Returns false (and leaves *value alone) on an empty string, a bad digit or overflow. */
bool parse_u32(const char *s, size_t len, uint32_t *value);

/* Marsaglia's xorshift32: x ^= x << 13; x ^= x >> 17; x ^= x << 5. The state must not be 0. */
static inline uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* floor(a * b / 2^32): maps a uniform 32-bit a onto [0, b) without a division. gcc compiles the
 * 32x32->64 multiply to one `mull` and keeps its high half (EDX); no libgcc helper is involved. */
static inline uint32_t scale_u32(uint32_t a, uint32_t b)
{
    return (uint32_t)(((uint64_t)a * b) >> 32);
}

/* A physical address as a pointer. The guest runs with paging off (except inside the pagetable
 * workload), so physical and linear addresses coincide. */
static inline void *phys_ptr(uint32_t addr)
{
    return (void *)(uintptr_t)addr;
}

#endif /* GUEST_LIB_H */
