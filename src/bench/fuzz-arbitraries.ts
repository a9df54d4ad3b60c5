// What the port fuzzer (fuzz.ts) generates with fast-check: one guest's settings and hostile boot
// (`config`), and its stream of operations (`op`): well-formed and malformed calls, raw garbage
// registers, narrow port accesses and writes into guest memory. Also the fixed places in low RAM the
// fuzzer keeps for itself. Values lean towards the limits of docs/protocol.md, with any u32 now and then.

import fc from "fast-check";
import { PAGE_POISON } from "../debug/poison.js";

export const MiB = 1 << 20;
export const C = { HELLO: 0, MEMMAP: 1, RESERVE: 2, ALLOC_PAGES: 0x10, FREE_PAGES: 0x11, ALLOC_CONTIG: 0x12, FREE_CONTIG: 0x13, STAT: 0x20, MARK: 0x21, BATCH: 0x30, EXIT: 0x3f };
export const KNOWN = [0, 1, 2, 0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x30];
/** Fixed places in low RAM: the multiboot structures, a BATCH array and a label area (reserved). */
export const INFO = 0x7c00, MAP = 0x8000, CMDLINE = 0x9000, ARRAY = 0x10000, ARRAY_BYTES = 0x10000, LABEL = 0x20000;
export const IMAGE_START = 0x100000, IMAGE_END = 0x120000, HOLE_END = 0x100000;

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const order = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 12 }) }, { weight: 1, arbitrary: u32 });
const gfp = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(0, 1, 2, 0x100, 0x101, 0x102) },
  { weight: 1, arbitrary: fc.constantFrom(3, 0x103, 4, 0x200, 0x80000000) },
  { weight: 1, arbitrary: u32 },
);
/** A free's address: a held block's head (how 0-5), its second frame (6), an odd byte (7), raw (8), a raw frame (9). */
const target = fc.record({ pick: fc.nat(), how: fc.integer({ min: 0, max: 9 }), raw: u32 });
const noPoison = (b: Uint8Array): Uint8Array => b.map((x) => (x === PAGE_POISON ? 0x55 : x));
/** Guest writes never store the poison byte, so any write into freed memory is one poison can see. */
const scribbleBytes = fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => noPoison(b));
const record = fc.record({ cmd: fc.constantFrom(C.ALLOC_PAGES, C.ALLOC_PAGES, C.FREE_PAGES, C.FREE_PAGES, C.STAT, 0, 0x12, 0xffff), arg0: order, arg1: gfp, target, matchOrder: fc.boolean() });

export const op = fc.oneof(
  { weight: 20, arbitrary: fc.record({ k: fc.constant("alloc" as const), order, gfp }) },
  { weight: 18, arbitrary: fc.record({ k: fc.constant("free" as const), target, order, matchOrder: fc.integer({ min: 0, max: 3 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant("allocContig" as const),
      npages: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 80 }) }, { weight: 1, arbitrary: u32 }),
      align: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(0, 1, 2, 4, 16, 64, 3, 6, 2 ** 31) }, { weight: 1, arbitrary: u32 }),
      gfp,
    }),
  },
  { weight: 5, arbitrary: fc.record({ k: fc.constant("freeContig" as const), target, npages: fc.oneof(fc.integer({ min: 0, max: 80 }), u32), matchSize: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("stat" as const), item: fc.oneof(fc.integer({ min: 0, max: 6 }), u32), arg: fc.oneof(fc.integer({ min: 0, max: 20 }), u32) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant("batch" as const),
      records: fc.array(record, { minLength: 1, maxLength: 40 }),
      countSel: fc.integer({ min: 0, max: 7 }),
      addrSel: fc.integer({ min: 0, max: 7 }),
      raw: u32,
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("mark" as const), addrSel: fc.integer({ min: 0, max: 5 }), bytes: fc.uint8Array({ minLength: 0, maxLength: 70 }).map((b) => noPoison(b)), raw: u32 }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant("raw" as const), eax: fc.oneof(fc.constantFrom(...KNOWN), u32), ebx: u32, ecx: u32, esi: u32 }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("hello" as const), version: fc.oneof(fc.integer({ min: 0, max: 3 }), u32) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("late" as const), cmd: fc.constantFrom(C.MEMMAP, C.RESERVE), a: u32, b: u32, c: u32 }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("narrow" as const), kind: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant("scribble" as const), addr: u32, nearHeld: fc.boolean(), bytes: scribbleBytes }) },
);
export type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const mapEntry = fc.record({
  size: fc.oneof({ weight: 8, arbitrary: fc.constant(20) }, { weight: 1, arbitrary: fc.constant(24) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) }),
  base: fc.oneof(fc.integer({ min: 0, max: 32 * MiB }), fc.integer({ min: 0, max: 0xffffffff }).map((x) => x * 4096)),
  length: fc.oneof(fc.integer({ min: 0, max: 32 * MiB }), fc.integer({ min: 0, max: 0xffffffff }).map((x) => x * 4096)),
  type: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(2, 3, 0xffffffff) }),
});
const brokenBoot = fc.record({
  flags: fc.oneof(fc.constant(0x44), fc.constant(0x40), fc.constant(0x04), u32),
  infoSel: fc.integer({ min: 0, max: 5 }),
  entries: fc.array(mapEntry, { maxLength: 132 }),
  lengthDelta: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -30, max: 30 }) }),
  mapSel: fc.integer({ min: 0, max: 5 }),
  cmdSel: fc.integer({ min: 0, max: 4 }),
  imageSel: fc.integer({ min: 0, max: 3 }),
  raw: u32,
});
export const config = fc.record({
  ramSel: fc.integer({ min: 0, max: 10 }),
  maxOrder: fc.integer({ min: 0, max: 11 }),
  pcpSel: fc.integer({ min: 0, max: 2 }),
  /** Without a record observer the bridge serves BATCH records on its fast path. */
  recordObserver: fc.boolean(),
  poison: fc.boolean(),
  failPercent: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 30 }) }),
  reserves: fc.array(fc.record({ base: fc.oneof(fc.integer({ min: 0, max: 24 * MiB }), u32), length: fc.oneof(fc.integer({ min: 0, max: 2 * MiB }), u32) }), { maxLength: 70 }),
  broken: fc.array(brokenBoot, { maxLength: 4 }),
  early: fc.array(op, { maxLength: 6 }),
  goodEntries: fc.array(fc.record({ base: fc.integer({ min: 0, max: 24 * MiB }), length: fc.integer({ min: 0, max: 24 * MiB }), type: fc.constantFrom(1, 1, 2) }), { minLength: 0, maxLength: 6 }),
  rngSeed: u32,
});
export type Config = typeof config extends fc.Arbitrary<infer T> ? T : never;
