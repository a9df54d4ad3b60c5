/* The live set of the random and batch workloads: the blocks currently allocated, in an array
 * of pages got from the host (the guest has no heap), with O(1) swap-remove. An entry is the
 * block's address with its order in the low bits (addresses are page aligned, orders < 4096).
 * Also the W3 stream's order choice, shared by both workloads. */
#ifndef GUEST_LIVESET_H
#define GUEST_LIVESET_H

#include "workload.h"

struct live_set {
    uint32_t *entries;     /* the array, cap entries */
    uint32_t len;          /* live entries */
    uint32_t cap;          /* capacity in entries */
    uint32_t array_pages;  /* pages of the array (one ALLOC_CONTIG range) */
    uint32_t peak;         /* the largest len seen */
};

#define LIVE_ORDER_MASK PAGE_MASK
#define LIVE_ADDR(entry) ((entry) & ~(uint32_t)LIVE_ORDER_MASK)
#define LIVE_ORDER(entry) ((entry) & LIVE_ORDER_MASK)

/* Allocates room for cap entries (at least 1). Returns false, after a failed CHECK, when the
 * host cannot give the array. */
bool live_init(struct live_set *set, struct run *run, uint32_t cap);

/* Frees the array. The set must be empty. */
void live_destroy(struct live_set *set, struct run *run);

/* Adds a block; the caller makes sure len < cap. */
static inline void live_push(struct live_set *set, uint32_t addr, uint32_t order)
{
    set->entries[set->len++] = addr | order;
    if (set->len > set->peak)
        set->peak = set->len;
}

/* Removes and returns entry floor(r * len / 2^32) (a uniform pick for a uniform r), moving the
 * last entry into its place. The set must not be empty. */
static inline uint32_t live_take(struct live_set *set, uint32_t r)
{
    uint32_t index = scale_u32(r, set->len);
    uint32_t entry = set->entries[index];
    set->entries[index] = set->entries[--set->len];
    return entry;
}

/* The W3 order for a random b: clz(2047 - b % 2047) - 21, so order k has probability about
 * 2^-(k+1): 2047 - b % 2047 lies in [1, 2047], clz gives 21 (order 0) for 1024..2047 down to 31
 * (order 10) for 1. Clamped to max_order. */
static inline uint32_t w3_order(uint32_t b, uint32_t max_order)
{
    uint32_t order = (uint32_t)__builtin_clz(2047 - b % 2047) - 21;
    return order < max_order ? order : max_order;
}

/* The generator's state for a seed: xorshift32 cannot start from 0, so 0 maps to a constant. */
static inline uint32_t w3_state(uint32_t seed)
{
    return seed ? seed : 0x9E3779B9u;
}

#endif /* GUEST_LIVESET_H */
