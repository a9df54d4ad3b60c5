// Page poisoning for an untrusted guest (Linux page_poison with init_on_free/init_on_alloc; Zircon's
// PMM checker): a BuddyListener that fills every block the guest frees with a pattern and verifies
// the pattern when the block is handed out again. A guest that wrote memory after freeing it is
// caught at the next allocation of that memory, with the frame, the first differing bytes, and the
// allocation and free sites of the block's last owner.
//
// What is checked is tracked per frame (`fill`): only frames a free armed are verified. Memory that
// was free at boot is not armed (filling all RAM up front would commit every page of a 2 GiB guest,
// and a guest may legitimately scribble on low memory before MEMMAP).

import { PAGE_SIZE, type BuddyAllocator, type BuddyListener } from "../mem/index.js";

/** Linux's PAGE_POISON byte. */
export const PAGE_POISON = 0xaa;

/** What a violation does to the run: only recorded and counted, or the run stops at the first one. */
export type PoisonAction = "report" | "stop";

export interface PoisonOptions {
  /** Fill freed blocks with `pattern` and verify it at allocation. */
  poison?: boolean;
  /** Zero freed blocks (with `poison`, the zeros are what allocation verifies). */
  initOnFree?: boolean;
  /** Zero blocks when they are handed out (after verification). */
  initOnAlloc?: boolean;
  action?: PoisonAction;
  /** The poison byte, default PAGE_POISON. */
  pattern?: number;
  /** Violations kept with their details; later ones are only counted. Default 100. */
  maxReports?: number;
}

/** Where the current hypercall comes from; supplied by the machine (or a test). Must not allocate. */
export interface CallSource {
  /** Sequence number of the call being served. */
  seq(): number;
  /** Guest EIP of the call's `in` instruction. */
  eip(): number;
}

/**
 * Turns a recorded site into text. `kind` names which site of the frame's last owner; seq and eip
 * are what poison recorded. Page owner (src/observe) can answer with a full backtrace.
 */
export type SiteResolver = (pfn: number, kind: "alloc" | "free", seq: number, eip: number) => string | undefined;

/** One call: its sequence number and the EIP of its `in`. */
export interface CallSite {
  seq: number;
  eip: number;
}

/** A block whose poison was overwritten while it was free. */
export interface PoisonViolation {
  /** The first frame of the block whose bytes differ, and its address. */
  pfn: number;
  addr: number;
  /** Offset of the first differing byte inside that frame. */
  offset: number;
  /** Up to 16 bytes from `offset`: what free left there and what allocation found. */
  expected: number[];
  found: number[];
  /** Differing bytes in the whole block. */
  differingBytes: number;
  /** The block being handed out: first pfn and frames. */
  blockPfn: number;
  blockPages: number;
  /** The allocation that found it. */
  detectedAt: CallSite;
  /** The frame's last owner: where it was allocated and freed (null when unknown). */
  lastAlloc: CallSite | null;
  lastFree: CallSite | null;
  /** The report, several lines. */
  message: string;
}

const FILL_NONE = 0;
const FILL_ZERO = 1;
const FILL_PATTERN = 2;
const NO_SEQ = 0xffffffff;
const SHOWN_BYTES = 16;

/** Everything a checkpoint needs to resume poison checking exactly where it was. */
export interface PoisonState {
  basePfn: number;
  fill: Uint8Array;
  allocSeq: Uint32Array;
  allocEip: Uint32Array;
  freeSeq: Uint32Array;
  freeEip: Uint32Array;
  violationCount: number;
  violations: PoisonViolation[];
}

export class PoisonChecker implements BuddyListener {
  readonly options: Required<PoisonOptions>;
  /** Every violation found (the first maxReports are in `violations`). */
  violationCount = 0;
  readonly violations: PoisonViolation[] = [];
  /** Called for each violation, after it is recorded (the machine stops the run here in "stop" mode). */
  onViolation: ((v: PoisonViolation) => void) | null = null;
  /** Optional: names sites (e.g. page owner's backtraces); else sites print as call number and EIP. */
  resolver: SiteResolver | null = null;
  /** Optional: EIP -> "function+0xoff". */
  symbolize: ((eip: number) => string | undefined) | null = null;

  private readonly allocator: BuddyAllocator;
  private readonly source: CallSource;
  private readonly basePfn: number;
  /** Per frame (index pfn - basePfn): FILL_* expectation armed by the last free. */
  private readonly fill: Uint8Array;
  private readonly allocSeq: Uint32Array;
  private readonly allocEip: Uint32Array;
  private readonly freeSeq: Uint32Array;
  private readonly freeEip: Uint32Array;
  private readonly patternWord: number;
  /** A 32-bit view of the allocator's memory, rebuilt when the memory view changes. */
  private words: Uint32Array | null = null;
  private wordsOf: Uint8Array | null = null;

  constructor(allocator: BuddyAllocator, source: CallSource, options: PoisonOptions = {}) {
    const pattern = options.pattern ?? PAGE_POISON;
    if (!Number.isInteger(pattern) || pattern < 0 || pattern > 255) throw new Error(`PoisonChecker: pattern ${pattern} is not a byte`);
    this.options = {
      poison: options.poison ?? true,
      initOnFree: options.initOnFree ?? false,
      initOnAlloc: options.initOnAlloc ?? false,
      action: options.action ?? "report",
      pattern,
      maxReports: options.maxReports ?? 100,
    };
    this.allocator = allocator;
    this.source = source;
    this.basePfn = allocator.basePfn;
    const n = allocator.frameCount;
    this.fill = new Uint8Array(n);
    this.allocSeq = new Uint32Array(n).fill(NO_SEQ);
    this.allocEip = new Uint32Array(n);
    this.freeSeq = new Uint32Array(n).fill(NO_SEQ);
    this.freeEip = new Uint32Array(n);
    this.patternWord = (pattern * 0x01010101) >>> 0;
  }

  alloc(pfn: number, order: number): void {
    this.handOut(pfn, 1 << order);
  }

  allocContig(pfn: number, npages: number): void {
    this.handOut(pfn, npages);
  }

  free(pfn: number, order: number): void {
    this.takeBack(pfn, 1 << order);
  }

  freeContig(pfn: number, npages: number): void {
    this.takeBack(pfn, npages);
  }

  split(): void {}
  merge(): void {}
  fail(): void {}
  pcpDrain(): void {}

  /** A copy of the per-frame records, for checkpoints. */
  getState(): PoisonState {
    return {
      basePfn: this.basePfn,
      fill: this.fill.slice(),
      allocSeq: this.allocSeq.slice(),
      allocEip: this.allocEip.slice(),
      freeSeq: this.freeSeq.slice(),
      freeEip: this.freeEip.slice(),
      violationCount: this.violationCount,
      violations: this.violations.map((v) => ({ ...v })),
    };
  }

  /** Restores getState() of a checker over the same allocator geometry; throws otherwise. */
  setState(s: PoisonState): void {
    if (s.basePfn !== this.basePfn || s.fill.length !== this.fill.length) throw new Error("PoisonChecker.setState: the state belongs to another memory geometry");
    this.fill.set(s.fill);
    this.allocSeq.set(s.allocSeq);
    this.allocEip.set(s.allocEip);
    this.freeSeq.set(s.freeSeq);
    this.freeEip.set(s.freeEip);
    this.violationCount = s.violationCount;
    this.violations.length = 0;
    this.violations.push(...s.violations);
  }

  /** Verifies the frames of a block being handed out, records its new owner, applies init_on_alloc. */
  private handOut(pfn: number, pages: number): void {
    const mem = this.allocator.memory;
    const seq = this.source.seq();
    const eip = this.source.eip();
    const first = pfn - this.basePfn;
    let reported = false;
    for (let idx = first; idx < first + pages; idx++) {
      const fill = this.fill[idx]!;
      if (fill !== FILL_NONE && mem !== null && !reported) {
        const offset = this.firstDifference(mem, (idx + this.basePfn) * PAGE_SIZE, fill === FILL_ZERO ? 0 : this.patternWord);
        if (offset >= 0) {
          this.report(mem, pfn, pages, idx, offset, fill === FILL_ZERO ? 0 : this.options.pattern, seq, eip);
          reported = true;
        }
      }
      this.fill[idx] = FILL_NONE;
      this.allocSeq[idx] = seq;
      this.allocEip[idx] = eip;
    }
    if (this.options.initOnAlloc && mem !== null) mem.fill(0, pfn * PAGE_SIZE, (pfn + pages) * PAGE_SIZE);
  }

  /** Records the free site and arms the frames: zeros (init_on_free) or the pattern (poison). */
  private takeBack(pfn: number, pages: number): void {
    const mem = this.allocator.memory;
    const seq = this.source.seq();
    const eip = this.source.eip();
    const first = pfn - this.basePfn;
    const { initOnFree, poison, pattern } = this.options;
    const fill = initOnFree ? FILL_ZERO : poison ? FILL_PATTERN : FILL_NONE;
    if (mem !== null && fill !== FILL_NONE) mem.fill(fill === FILL_ZERO ? 0 : pattern, pfn * PAGE_SIZE, (pfn + pages) * PAGE_SIZE);
    // init_on_free alone zeroes without checking (Linux); poison checks whatever free left there.
    const armed = poison && mem !== null ? fill : FILL_NONE;
    for (let idx = first; idx < first + pages; idx++) {
      this.fill[idx] = armed;
      this.freeSeq[idx] = seq;
      this.freeEip[idx] = eip;
    }
  }

  /** Offset of the first byte of the frame at addr that is not the fill, or -1. */
  private firstDifference(mem: Uint8Array, addr: number, word: number): number {
    if (mem !== this.wordsOf) {
      this.wordsOf = mem;
      this.words = mem.byteOffset % 4 === 0 ? new Uint32Array(mem.buffer, mem.byteOffset, mem.length >>> 2) : null;
    }
    const words = this.words;
    if (words !== null) {
      const w0 = addr >>> 2;
      for (let i = 0; i < PAGE_SIZE / 4; i++) {
        if (words[w0 + i] !== word) {
          const byte = word & 0xff;
          for (let b = 4 * i; b < 4 * i + 4; b++) if (mem[addr + b] !== byte) return b;
        }
      }
      return -1;
    }
    const byte = word & 0xff;
    for (let b = 0; b < PAGE_SIZE; b++) if (mem[addr + b] !== byte) return b;
    return -1;
  }

  private report(mem: Uint8Array, blockPfn: number, pages: number, idx: number, offset: number, byte: number, seq: number, eip: number): void {
    this.violationCount++;
    if (this.violations.length >= this.options.maxReports) return;
    const pfn = idx + this.basePfn;
    const addr = pfn * PAGE_SIZE;
    let differing = 0;
    for (let i = blockPfn - this.basePfn; i < blockPfn - this.basePfn + pages; i++) {
      const f = this.fill[i]!;
      if (f === FILL_NONE) continue;
      const want = f === FILL_ZERO ? 0 : this.options.pattern;
      for (let a = (i + this.basePfn) * PAGE_SIZE, end = a + PAGE_SIZE; a < end; a++) if (mem[a] !== want) differing++;
    }
    const shown = Math.min(SHOWN_BYTES, PAGE_SIZE - offset);
    const v: PoisonViolation = {
      pfn,
      addr,
      offset,
      expected: new Array<number>(shown).fill(byte),
      found: Array.from(mem.subarray(addr + offset, addr + offset + shown)),
      differingBytes: differing,
      blockPfn,
      blockPages: pages,
      detectedAt: { seq, eip },
      lastAlloc: this.allocSeq[idx] === NO_SEQ ? null : { seq: this.allocSeq[idx]!, eip: this.allocEip[idx]! },
      lastFree: this.freeSeq[idx] === NO_SEQ ? null : { seq: this.freeSeq[idx]!, eip: this.freeEip[idx]! },
      message: "",
    };
    v.message = this.format(v);
    this.violations.push(v);
    if (this.onViolation !== null) this.onViolation(v);
  }

  private format(v: PoisonViolation): string {
    const hx = (n: number): string => "0x" + n.toString(16);
    const bytes = (b: number[]): string => b.map((x) => x.toString(16).padStart(2, "0")).join(" ");
    const site = (kind: "alloc" | "free", s: CallSite | null): string => {
      if (s === null) return "unknown";
      const resolved = this.resolver !== null ? this.resolver(v.pfn, kind, s.seq, s.eip) : undefined;
      return resolved ?? this.describe(s);
    };
    return [
      `poison: use after free in frame pfn ${hx(v.pfn)} (${hx(v.addr)}): ${v.differingBytes} byte(s) of the ${v.blockPages}-frame block at pfn ${hx(v.blockPfn)} changed while it was free`,
      `  first difference at offset ${hx(v.offset)} (address ${hx(v.addr + v.offset)}):`,
      `    expected ${bytes(v.expected)}`,
      `    found    ${bytes(v.found)}`,
      `  last owner freed it at ${site("free", v.lastFree)}`,
      `  last owner allocated it at ${site("alloc", v.lastAlloc)}`,
      `  found by the allocation at ${this.describe(v.detectedAt)}`,
    ].join("\n");
  }

  /** "call 130, EIP 0x1012f0 (uaf_run+0x70)". */
  describe(s: CallSite): string {
    const sym = this.symbolize !== null ? this.symbolize(s.eip) : undefined;
    return `call ${s.seq}, EIP 0x${s.eip.toString(16)}${sym !== undefined ? ` (${sym})` : ""}`;
  }
}
