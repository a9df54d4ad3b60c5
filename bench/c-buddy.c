/*
 * The native reference for `npm run bench`: a lean Linux-style buddy allocator in C with the data
 * layout of src/mem/core.ts (per-frame interleaved next/prev int32 links, -1 terminated, and one
 * state<<5|order byte; per-order free lists with a bitmap of non-empty orders), driven by the same
 * workloads W1..W4 with the same xorshift32 streams as src/bench/bench.ts, beside a plain free-frame
 * stack. It answers "how fast is native code on this machine" for the same work.
 *
 * The zones of the TypeScript pool (DMA below 16 MiB, Normal below 896 MiB, HighMem above; frame 0
 * is never managed) with GFP_HIGHMEM's fallback HighMem -> Normal -> DMA, as the workloads ask, and
 * no per-CPU cache: it is the pure buddy (`pcp: false`). Frees are checked as the TypeScript fast
 * path checks them (the head must be ALLOC of that order); merges only with a buddy recorded as a
 * free head of the same order in the same zone. With one zone instead, W1 and W1b would take the
 * order-0 edge block at frame 1 and never split or merge, which is not the TypeScript workload.
 *
 * Build and run: npm run bench:c (gcc -O2 into a temp dir). Prints the table of npm run bench.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_SHIFT 12
#define FRAMES (1u << 18) /* 1 GiB of 4 KiB frames */
#define MAX_ORDER 10      /* inclusive, Linux MAX_PAGE_ORDER */
#define ORDER_COUNT (MAX_ORDER + 1)
#define ZONE_COUNT 3
#define REPS 5
#define W2_SEED 0x2545F491u
#define W3_SEED 2463534242u
#define W3_OPS 2000000

#define STATE_SHIFT 5
#define TAIL_TAG (1 << STATE_SHIFT)
#define FREE_TAG (2 << STATE_SHIFT)
#define ALLOC_TAG (4 << STATE_SHIFT)

/* ---- the buddy: struct of arrays, as src/mem/core.ts ---- */
static int32_t *link_; /* link_[2*idx] = next free head, link_[2*idx+1] = prev; -1 ends */
static uint8_t *meta;  /* state << 5 | order */
/* Per zone: the free area (list heads, counts, bitmap of non-empty orders) and the frame range. */
struct zone {
	int32_t free_head[ORDER_COUNT];
	int32_t nr_free[ORDER_COUNT];
	uint32_t order_mask; /* bit k: the order-k list is non-empty */
	int32_t lo, hi;      /* frames [lo, hi) */
};
static struct zone zones[ZONE_COUNT];
static const int32_t zone_end[ZONE_COUNT] = {0x1000, 0x38000, FRAMES};

static inline void add_free(struct zone *z, int32_t idx, int order)
{
	int32_t head = z->free_head[order];
	link_[2 * idx] = head;
	link_[2 * idx + 1] = -1;
	if (head >= 0)
		link_[2 * head + 1] = idx;
	z->free_head[order] = idx;
	meta[idx] = FREE_TAG | order;
	z->nr_free[order]++;
	z->order_mask |= 1u << order;
}

static inline void del_free(struct zone *z, int32_t idx, int order)
{
	int32_t nx = link_[2 * idx], pv = link_[2 * idx + 1];
	if (pv >= 0)
		link_[2 * pv] = nx;
	else
		z->free_head[order] = nx;
	if (nx >= 0)
		link_[2 * nx + 1] = pv;
	if (--z->nr_free[order] == 0)
		z->order_mask &= ~(1u << order);
}

static inline struct zone *zone_of(int32_t idx)
{
	return idx < zones[0].hi ? &zones[0] : idx < zones[1].hi ? &zones[1] : &zones[2];
}

/* Largest order <= MAX_ORDER of a block aligned at start that ends at or before end. */
static int largest_fit(int32_t start, int32_t end)
{
	int order = start == 0 ? MAX_ORDER : __builtin_ctz(start);
	if (order > MAX_ORDER)
		order = MAX_ORDER;
	while (start + (1 << order) > end)
		order--;
	return order;
}

/* Boot handover: each zone's frames (frame 0 excepted) as the largest aligned blocks, low addresses
 * handed out first. */
static void buddy_init(void)
{
	memset(link_, 0xff, sizeof(int32_t) * 2 * FRAMES);
	memset(meta, TAIL_TAG, FRAMES);
	meta[0] = 0;
	static int32_t blocks[FRAMES];
	for (int zi = 0; zi < ZONE_COUNT; zi++) {
		struct zone *z = &zones[zi];
		for (int o = 0; o < ORDER_COUNT; o++)
			z->free_head[o] = -1, z->nr_free[o] = 0;
		z->order_mask = 0;
		z->lo = zi == 0 ? 0 : zone_end[zi - 1];
		z->hi = zone_end[zi];
		int n = 0;
		for (int32_t idx = z->lo == 0 ? 1 : z->lo; idx < z->hi; idx += 1 << largest_fit(idx, z->hi))
			blocks[n++] = idx;
		while (n-- > 0)
			add_free(z, blocks[n], largest_fit(blocks[n], z->hi));
	}
}

/* alloc_pages(GFP_HIGHMEM): the block's address, or 0 when nothing fits. Zones in fallback order
 * HighMem, Normal, DMA; in each, Linux rmqueue + expand. */
static uint64_t alloc_pages(int order)
{
	for (int zi = ZONE_COUNT - 1; zi >= 0; zi--) {
		struct zone *z = &zones[zi];
		uint32_t mask = z->order_mask & (~0u << order);
		if (mask == 0)
			continue;
		int cur = __builtin_ctz(mask);
		int32_t idx = z->free_head[cur];
		del_free(z, idx, cur);
		while (cur > order) {
			cur--;
			add_free(z, idx + (1 << cur), cur);
		}
		meta[idx] = ALLOC_TAG | order;
		return (uint64_t)idx << PAGE_SHIFT;
	}
	return 0;
}

/* free_pages: 0, or -1 when addr is not the head of an allocated block of this order. */
static int free_pages(uint64_t addr, int order)
{
	if ((addr & ((1u << PAGE_SHIFT) - 1)) != 0 || addr >= (uint64_t)FRAMES << PAGE_SHIFT)
		return -1;
	int32_t idx = (int32_t)(addr >> PAGE_SHIFT);
	if (meta[idx] != (ALLOC_TAG | order))
		return -1;
	struct zone *z = zone_of(idx);
	meta[idx] = TAIL_TAG;
	while (order < MAX_ORDER) {
		int32_t buddy = idx ^ (1 << order);
		if (buddy < z->lo || buddy >= z->hi || meta[buddy] != (FREE_TAG | order))
			break;
		del_free(z, buddy, order);
		meta[buddy] = TAIL_TAG;
		idx &= buddy;
		order++;
	}
	add_free(z, idx, order);
	return 0;
}

/* ---- the plain stack: src/bench/workloads.ts FrameStack ---- */
static int32_t *stack_frames;
static uint32_t stack_top;

static void stack_init(void)
{
	stack_top = 0;
	for (int32_t pfn = FRAMES - 1; pfn >= 1; pfn--)
		stack_frames[stack_top++] = pfn;
}

static uint64_t stack_alloc(int order)
{
	(void)order;
	return stack_top == 0 ? 0 : (uint64_t)stack_frames[--stack_top] << PAGE_SHIFT;
}

static int stack_free(uint64_t addr, int order)
{
	(void)order;
	stack_frames[stack_top++] = (int32_t)(addr >> PAGE_SHIFT);
	return 0;
}

/* ---- workloads: src/bench/bench.ts ---- */
static uint32_t xs_state;
static inline uint32_t xs32(void)
{
	uint32_t x = xs_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return xs_state = x;
}

static inline int w3_order(uint32_t b) { return __builtin_clz(2047 - b % 2047) - 21; }

/* The workloads' records of live blocks, made and touched once (as in bench.ts); addresses are below
 * 4 GiB, so 32 bits hold them, as bench.ts's Uint32Array, and W3/W4 keep each block's order in the
 * page-aligned address's low 12 bits (addr + order). */
static uint32_t *live_addrs;

struct result {
	long calls, failures;
};

/* One body per source, so each is compiled with its allocator in line (as each JS child process is). */
#define WORKLOADS(SRC, ALLOC, FREE)                                                                  \
	static struct result SRC##_w1(void)                                                          \
	{                                                                                            \
		for (int i = 0; i < 1000000; i++)                                                    \
			FREE(ALLOC(0), 0);                                                           \
		return (struct result){2000000, 0};                                                  \
	}                                                                                            \
	static struct result SRC##_w1b(void)                                                         \
	{                                                                                            \
		uint64_t held = ALLOC(0);                                                            \
		struct result r = SRC##_w1();                                                        \
		FREE(held, 0);                                                                       \
		return r;                                                                            \
	}                                                                                            \
	static struct result SRC##_w2(void)                                                          \
	{                                                                                            \
		uint32_t *live = live_addrs;                                                         \
		long n = 0, calls = 0;                                                               \
		for (;;) {                                                                           \
			uint64_t addr = ALLOC(0);                                                    \
			calls++;                                                                     \
			if (addr == 0)                                                               \
				break;                                                               \
			live[n++] = addr;                                                            \
		}                                                                                    \
		xs_state = W2_SEED;                                                                  \
		for (long i = n - 1; i > 0; i--) {                                                   \
			long j = (long)(((uint64_t)xs32() * (uint64_t)(i + 1)) >> 32);               \
			uint32_t t = live[i];                                                        \
			live[i] = live[j];                                                           \
			live[j] = t;                                                                 \
		}                                                                                    \
		for (long i = 0; i < n; i++)                                                         \
			FREE(live[i], 0);                                                            \
		return (struct result){calls + n, 1};                                                \
	}                                                                                            \
	static struct result SRC##_stream(double fill_target)                                        \
	{                                                                                            \
		xs_state = W3_SEED;                                                                  \
		uint32_t *live = live_addrs; /* addr + order */                                      \
		long count = 0, live_frames = 0, failures = 0;                                       \
		for (int op = 0; op < W3_OPS; op++) {                                                \
			uint32_t a = xs32(), b = xs32();                                             \
			if (count > 0 && (fill_target == 0 ? a >> 31 == 1 : live_frames >= fill_target)) { \
				long i = (long)(((uint64_t)b * (uint64_t)count) >> 32);              \
				uint32_t block = live[i];                                            \
				int order = block & 4095;                                            \
				if (FREE(block - order, order) != 0) {                               \
					fprintf(stderr, "bench: a free failed\n");                   \
					exit(1);                                                     \
				}                                                                    \
				live_frames -= 1L << order;                                          \
				live[i] = live[--count];                                             \
			} else {                                                                     \
				int order = w3_order(b);                                             \
				uint64_t addr = ALLOC(order);                                        \
				if (addr == 0) {                                                     \
					failures++;                                                  \
					continue;                                                    \
				}                                                                    \
				live[count++] = (uint32_t)addr + order;                              \
				live_frames += 1L << order;                                          \
			}                                                                            \
		}                                                                                    \
		/* The W3_OPS ops are the workload: blocks still live stay (each rep has a fresh source). */ \
		return (struct result){W3_OPS, failures};                                             \
	}                                                                                            \
	static struct result SRC##_w3(void) { return SRC##_stream(0); }                              \
	static struct result SRC##_w4(void) { return SRC##_stream(0.9 * FRAMES); }

WORKLOADS(buddy, alloc_pages, free_pages)
WORKLOADS(stack, stack_alloc, stack_free)

struct stats {
	double median, min, max;
	long failures;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* 1 warm-up, then REPS timed reps, each on a fresh source (as measure() in bench.ts). */
static struct stats measure(void (*init)(void), struct result (*work)(void))
{
	double samples[REPS];
	struct stats s = {0};
	for (int rep = -1; rep < REPS; rep++) {
		init();
		double t0 = now_ns();
		struct result r = work();
		double ns = (now_ns() - t0) / r.calls;
		s.failures = r.failures;
		if (rep >= 0)
			samples[rep] = ns;
	}
	qsort(samples, REPS, sizeof samples[0], cmp_double);
	s.median = samples[REPS / 2], s.min = samples[0], s.max = samples[REPS - 1];
	return s;
}

int main(int argc, char **argv)
{
	int json = argc > 1 && strcmp(argv[1], "--json") == 0;
	/* `one W [buddy|stack]` runs a single workload once, for callgrind. */
	int one = argc > 2 && strcmp(argv[1], "one") == 0;
	link_ = malloc(sizeof(int32_t) * 2 * FRAMES);
	meta = malloc(FRAMES);
	stack_frames = malloc(sizeof(int32_t) * FRAMES);
	live_addrs = calloc(FRAMES, sizeof *live_addrs);
	memset(live_addrs, 0, FRAMES * sizeof *live_addrs);
	static const char *names[] = {"W1", "W1b", "W2", "W3", "W4"};
	struct result (*buddy_work[])(void) = {buddy_w1, buddy_w1b, buddy_w2, buddy_w3, buddy_w4};
	struct result (*stack_work[])(void) = {stack_w1, stack_w1b, stack_w2, stack_w3, stack_w4};
	if (one) {
		int stack = argc > 3 && strcmp(argv[3], "stack") == 0;
		for (int w = 0; w < 5; w++)
			if (strcmp(argv[2], names[w]) == 0) {
				stack ? stack_init() : buddy_init();
				struct result r = (stack ? stack_work : buddy_work)[w]();
				printf("%s %ld calls\n", names[w], r.calls);
			}
		return 0;
	}
	if (!json)
		printf("buddy86 bench:c (gcc -O2): %u frames, median/min/max of %d reps after 1 warm-up, ns per call\n",
		       FRAMES, REPS);
	else
		printf("{\"schema\":1,\"frames\":%u,\"reps\":%d,\"unit\":\"ns/call\",\"native\":true,\"rows\":[", FRAMES, REPS);
	for (int w = 0; w < 5; w++) {
		struct stats b = measure(buddy_init, buddy_work[w]);
		struct stats s = measure(stack_init, stack_work[w]);
		double ratio = b.median / s.median;
		if (json)
			printf("%s{\"workload\":\"%s\",\"mode\":\"pure\",\"median\":%.3f,\"min\":%.3f,\"max\":%.3f,\"failures\":%ld,"
			       "\"stack\":%.3f,\"ratio\":%.3f}",
			       w ? "," : "", names[w], b.median, b.min, b.max, b.failures, s.median, ratio);
		else
			printf("%-4s %-5s median %6.2f  min %6.2f  max %6.2f  | stack %5.2f  ratio %5.2f  | failures %ld\n",
			       names[w], "pure", b.median, b.min, b.max, s.median, ratio, b.failures);
	}
	if (json)
		printf("]}\n");
	return 0;
}
