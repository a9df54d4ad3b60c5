// The observers' numbers that their per-call paths use: the x86 registers and control bits the hub
// and the stack walk read, the stack memo's table size, and the layouts of the page owner's rows and
// of the web page's event ring. They live in a module with no imports because that is where the
// build can fold them: esbuild's minifySyntax inlines a module's top-level numeric constants only
// when the module imports nothing. Declared beside the code that uses them, each was a module
// variable that V8 loaded, tag-checked and overflow-checked at every use: in the page's churn run
// the stack memo's check alone spent about 40 host instructions per call on them (callgrind).
// Plain literals only (no `1 << 14`): an expression also stops the folding.

// ---- x86, as the hub and the stack walk read it ----
/** Indices of EAX and EBP in v86's reg32 array. */
export const REG_EAX = 0;
export const REG_EBP = 5;
export const CR0_PG = 0x80000000;
export const CR4_PSE = 0x10;
export const CR4_PAE = 0x20;
export const PTE_PRESENT = 0x1;
export const PDE_PAGE_SIZE = 0x80;
/** 2^32, for unwrapping the guest's 32-bit instruction counter. */
export const TWO_32 = 4294967296;

// ---- StackMemo (stack-walk.ts) ----
/** 2^7 = 128 slots, indexed by a hash of (EIP, EBP). */
export const MEMO_SLOT_BITS = 7;
export const MEMO_SLOTS = 128;
/** A slot that holds no walk. */
export const MEMO_EMPTY = -1;
/** Frames a RecentWalk keeps in fields: deeper trails are checked in the memo's table only. */
export const RECENT_FRAMES = 6;
/** The deepest backtrace the hub keeps by default (Linux's page_owner keeps 16 entries). */
export const DEFAULT_STACK_DEPTH = 16;
/**
 * The deepest walk the call sampler keeps (call-sampler-wasm.ts): the hub's default depth, so that a
 * guest's usual stacks are found there (the bundled demo's are eight frames deep).
 */
export const SAMPLER_FRAMES = DEFAULT_STACK_DEPTH;

// ---- PageOwner rows (page-owner.ts) ----
/** "No row" and "no stack" in the page owner's tables. */
export const OWNER_NONE = -1;
/** Rows come in chunks of 2^14 = 16384, so the tables grow without copying. */
export const ROW_CHUNK_SHIFT = 14;
export const ROW_CHUNK_ROWS = 16384;
export const ROW_CHUNK_MASK = 16383;
/** Int32 fields of a row. */
export const I_PFN = 0;
export const I_NPAGES = 1;
export const I_ORDER = 2;
export const I_GFP = 3;
export const I_ALLOC_STACK = 4;
export const I_FREE_STACK = 5;
export const I_STRIDE = 6;
/** Float64 fields of a row (call numbers and instruction counts outgrow 31 bits in long runs). */
export const F_ALLOC_SEQ = 0;
export const F_ALLOC_ICOUNT = 1;
export const F_FREE_SEQ = 2;
export const F_FREE_ICOUNT = 3;
export const F_STRIDE = 4;

// ---- The event ring (event-ring.ts): the web page's event log and page owner read it ----
/** Events kept: the newest 2^17 = 131072 (4 MiB of ring, and 2 MiB of call numbers and icounts). */
export const EVENT_RING_SIZE = 131072;
/** Int32 fields per event: seven, and one of padding that keeps each 32-byte entry inside one 64-byte cache line. */
export const E_STRIDE = 8;
/** The packed E_KIND word: kind code (bits 0-3), status (4-7), order + 1 (8-15), zone + 1 (16-23), cmd + 1 (24-31). */
export const E_KIND = 0;
export const E_RECORD = 1;
export const E_PFN = 2;
export const E_NPAGES = 3;
export const E_GFP = 4;
export const E_STACK = 5;
export const E_EIP = 6;
/** Float64 fields per event: the call number and the instruction count, exact past 2^32. */
export const EF_STRIDE = 2;
export const EF_SEQ = 0;
export const EF_ICOUNT = 1;
/** Fields of the packed E_KIND word (0 in order, zone and cmd: none; status 15: not a request). */
export const EK_KIND_MASK = 0xf;
export const EK_STATUS_SHIFT = 4;
export const EK_STATUS_MASK = 0xf;
export const EK_ORDER_SHIFT = 8;
export const EK_ZONE_SHIFT = 16;
export const EK_CMD_SHIFT = 24;
/** Events between two catch-ups of the ring's readers: half the ring, so none falls a ring behind. */
export const EVENT_RING_HALF = 65536;

// ---- Event kinds (events.ts EVENT_KINDS, whose index is the code) ----
export const KIND_ALLOC = 0;
export const KIND_FREE = 1;
export const KIND_SPLIT = 2;
export const KIND_MERGE = 3;
export const KIND_FAIL = 4;
export const KIND_PCP_DRAIN = 5;
export const KIND_MARK = 6;
export const KIND_PROTOCOL_ERROR = 7;
