// The hypercall bridge: the host end of the buddy86 ABI (docs/protocol.md). A guest's 32-bit `in`
// from HC_PORT lands in portRead32(), which reads EAX/EBX/ECX/ESI, runs the command against the
// allocator, writes the status to EBX and returns the result for EAX. The bridge knows nothing of
// v86: it works on a RAM view and a register view, so tests drive it over a plain Uint8Array.
//
// Three kinds of failure, one mechanism each: a bad guest request is a status; no memory is ENOMEM;
// an exception from our own code (the allocator, an invariant, an observer) is a host error that
// stops the bridge and is reported through onFatal, never thrown into the emulator's loop.
// Hot path (ALLOC/FREE/STAT/BATCH): no allocation, no closure, no Proxy; counters are typed arrays.

import { ABI_VERSION, BATCH_RECORD, Cmd, LIMITS, Stat, Status, commandName } from "../protocol/abi.js";
import { BuddyAllocator, MemoryMap, type BuddyState, type PcpOptions, type PhysRange, type ReservedRange } from "../mem/index.js";
import { BridgeCounters } from "./counters.js";
import { buildMemoryMap, inGuestRam, readMultibootInfo, type GuestReservation } from "./memmap.js";
import { formatImageWarning, formatMemoryMapLog, segmentsOutsideImage } from "./boot-log.js";
import type { Elf32Image } from "./elf.js";
import type { PortHandlers } from "../host/v86-cpu.js";

// Register indices of reg32 (v86 and x86 encoding order).
const EAX = 0;
const ECX = 1;
const EBX = 3;
const ESI = 6;

// Command and status codes as module constants, so the dispatch switch compares small integers.
const HELLO = Cmd.HELLO;
const MEMMAP = Cmd.MEMMAP;
const RESERVE = Cmd.RESERVE;
const ALLOC_PAGES = Cmd.ALLOC_PAGES;
const FREE_PAGES = Cmd.FREE_PAGES;
const ALLOC_CONTIG = Cmd.ALLOC_CONTIG;
const FREE_CONTIG = Cmd.FREE_CONTIG;
const STAT = Cmd.STAT;
const MARK = Cmd.MARK;
const BATCH = Cmd.BATCH;
const EXIT = Cmd.EXIT;
const OK = Status.OK;
const ENOMEM = Status.ENOMEM;
const EINVAL = Status.EINVAL;
const EFAULT = Status.EFAULT;
const ENOSYS = Status.ENOSYS;
const ESTATE = Status.ESTATE;
const EVERSION = Status.EVERSION;
/** The largest status the allocator itself returns (ENOTHEAD). */
const ALLOCATOR_STATUS_MAX = Status.ENOTHEAD;
const RECORD_SIZE = BATCH_RECORD.SIZE;
/** Typed arrays are host-endian; the records' fast path needs little-endian (every host v86 runs on). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Sees every call after it is answered. Called on the hot path: keep it cheap; throwing stops the run. */
export interface BridgeObserver {
  /** Called once, when the bridge is built: gives access to guestRam, the allocator and counters. */
  attach?(bridge: HypercallBridge): void;
  /** seq counts port calls from 0. result is what the guest gets in EAX, status in EBX. */
  onCall(seq: number, cmd: number, arg0: number, arg1: number, arg2: number, result: number, status: number): void;
  /** For each BATCH record, before the onCall of its BATCH. */
  onRecord?(seq: number, index: number, cmd: number, arg0: number, arg1: number, result: number, status: number): void;
  /** Called once by the machine runner, after attach: the guest CPU to sample inside calls (EIP, EBP, CR3, ...). */
  attachGuest?(guest: GuestRegisters): void;
  /**
   * An 8/16-bit read (width 1 or 2 bytes) or a write of any width (width 0) of the port: a protocol
   * error. `seq` is the number the next call will get.
   */
  onPortMisuse?(seq: number, width: number, write: boolean): void;
}

/**
 * Guest CPU state an observer may read while a call is being served (src/host/v86-cpu.ts GuestCpu
 * provides it; tests pass fakes). Valid only inside a port handler: reg32 is refreshed on port entry.
 */
export interface GuestRegisters {
  /** EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI as in v86's reg32. */
  readonly reg32: Int32Array;
  /** Linear address of the `in` being served. */
  readonly eip: number;
  /** Instructions retired (u32, wraps; approximate inside a port handler). */
  readonly instructionCount: number;
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
}

export interface BridgeOptions {
  /** Guest physical memory: byte i is physical address i. Replace it with setViews() if it moves. */
  ram: Uint8Array;
  /** EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI, as in v86's reg32. */
  reg32: Int32Array;
  /** Allocator options used when MEMMAP builds it. */
  maxOrder?: number;
  pcp?: PcpOptions;
  /** The kernel's ELF, to warn when MEMMAP's image range misses one of its PT_LOAD segments. */
  kernelElf?: Elf32Image | null;
  /** Receives each boot-log line (also kept in bootLog). */
  log?: (line: string) => void;
  /** A millisecond clock, read at the first call and at EXIT (never per call). */
  now?: () => number;
  observer?: BridgeObserver | null;
  /** The guest called EXIT. The bridge has stopped answering. */
  onExit?: (code: number) => void;
  /** Our own code threw: the bridge has stopped; end the run and report `error`. */
  onFatal?: (error: Error) => void;
  /** Describes where the guest is (e.g. "EIP 0x100a3 (main+0x12)"), for host-error messages. */
  where?: () => string;
  /**
   * Benchmark only (`npm run bench:bridge`): ALLOC_PAGES, FREE_PAGES and BATCH get a trivial answer
   * (OK, and always the same frame, taken once at MEMMAP) without the allocator, counters or observer,
   * to measure the bare cost of the port. Every other command runs as usual. Never for real guests.
   */
  bareTransport?: boolean;
  /**
   * The allocator exists: MEMMAP just built it, or importState() restored it. Debug tools (poison,
   * fault injection: src/debug) attach their listener and fail predicate here. Throwing is a host error.
   */
  onAllocator?: (allocator: BuddyAllocator) => void;
}

/** A MARK the guest made: its label and the call number it came at. */
export interface GuestMark {
  seq: number;
  label: string;
}

/** An exception from our own code while serving a call: a bug, never the guest's fault. */
export class HostError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HostError";
  }
}

export type BridgeState = "boot" | "running" | "exited" | "failed";

/** A bridge between two calls, for checkpoints (src/debug/checkpoint.ts): exportState / importState. */
export interface BridgeSavedState {
  phase: "boot" | "running";
  calls: number;
  reservations: GuestReservation[];
  marks: GuestMark[];
  bootLog: string[];
  counters: { calls: Float64Array; records: Float64Array; statuses: Float64Array; protocolErrors: number };
  /** The memory map MEMMAP built, as ranges (null before MEMMAP). */
  map: { usable: PhysRange[]; reserved: ReservedRange[] } | null;
  allocator: BuddyState | null;
}

export class HypercallBridge {
  readonly counters = new BridgeCounters();
  readonly bootLog: string[] = [];
  readonly marks: GuestMark[] = [];
  /** RESERVE ranges collected before MEMMAP. */
  readonly reservations: GuestReservation[] = [];
  /** Handlers for every width of the port, to register with the CPU (built once). */
  readonly portHandlers: PortHandlers;

  private ram: Uint8Array;
  private dv: DataView;
  /**
   * Guest RAM as 32-bit words and 16-bit halves, for BATCH records at 4-byte aligned addresses;
   * null when the RAM view itself is not 4-byte aligned (or the host is big-endian): DataView then.
   */
  private words: Int32Array | null = null;
  private halves: Uint16Array | null = null;
  private reg32: Int32Array;
  private readonly opts: BridgeOptions;
  /** Guest RAM size in bytes, fixed for the bridge's life. */
  private readonly ramSize: number;
  private readonly now: (() => number) | null;
  private readonly observer: BridgeObserver | null;
  /** The status of the last command run, set by the command methods (avoids returning pairs). */
  private status = OK;
  private buddy: BuddyAllocator | null = null;
  private map: MemoryMap | null = null;
  private phase: BridgeState = "boot";
  private exitStatus: number | null = null;
  private fatal: HostError | null = null;
  private calls = 0;
  private firstCallAt = -1;
  private exitAt = -1;
  /** bareTransport: the one frame every trivial ALLOC_PAGES returns (0 until MEMMAP took it). */
  private barePage = 0;

  constructor(options: BridgeOptions) {
    this.opts = options;
    this.ram = options.ram;
    this.reg32 = options.reg32;
    this.ramSize = options.ram.length;
    this.dv = new DataView(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength);
    this.buildRecordViews();
    this.now = options.now ?? null;
    this.observer = options.observer ?? null;
    this.portHandlers = {
      read8: (): number => this.portNarrowRead(0xff),
      read16: (): number => this.portNarrowRead(0xffff),
      read32: options.bareTransport === true ? (): number => this.bareRead32() : (): number => this.portRead32(),
      write8: (): void => this.portWrite(),
      write16: (): void => this.portWrite(),
      write32: (): void => this.portWrite(),
    };
    if (this.observer !== null && this.observer.attach !== undefined) this.observer.attach(this);
  }

  /** Points the bridge (and the allocator's GFP_ZERO) at new views of the same guest RAM and registers. */
  setViews(ram: Uint8Array, reg32: Int32Array): void {
    // (The old view may be detached already, its length 0: compare with the size fixed at construction.)
    if (ram.length !== this.ramSize) throw new Error(`setViews: a RAM view of ${ram.length} bytes for ${this.ramSize} bytes of guest RAM`);
    this.ram = ram;
    this.reg32 = reg32;
    this.dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    this.buildRecordViews();
    if (this.buddy !== null) this.buddy.setMemory(ram);
  }

  private buildRecordViews(): void {
    const ram = this.ram;
    const aligned = LITTLE_ENDIAN && ram.byteOffset % 4 === 0;
    this.words = aligned ? new Int32Array(ram.buffer, ram.byteOffset, ram.byteLength >>> 2) : null;
    this.halves = aligned ? new Uint16Array(ram.buffer, ram.byteOffset, ram.byteLength >>> 1) : null;
  }

  /** The allocator MEMMAP built, or null before it succeeded. */
  get allocator(): BuddyAllocator | null {
    return this.buddy;
  }

  /** The memory map MEMMAP built the allocator from, or null. */
  get memoryMap(): MemoryMap | null {
    return this.map;
  }

  /** "boot" before MEMMAP, "running" after, "exited" after EXIT, "failed" after a host error. */
  get state(): BridgeState {
    return this.phase;
  }

  /** The guest's EXIT code, or null. */
  get exitCode(): number | null {
    return this.exitStatus;
  }

  /** The host error that stopped the bridge, or null. */
  get fatalError(): HostError | null {
    return this.fatal;
  }

  /** A copy of everything the bridge keeps, taken between two calls of a guest that has not ended. */
  exportState(): BridgeSavedState {
    if (this.phase !== "boot" && this.phase !== "running") throw new Error(`exportState: the bridge is ${this.phase}`);
    const map = this.map;
    return {
      phase: this.phase,
      calls: this.calls,
      reservations: this.reservations.map((r) => ({ ...r })),
      marks: this.marks.map((m) => ({ ...m })),
      bootLog: [...this.bootLog],
      counters: {
        calls: this.counters.calls.slice(),
        records: this.counters.records.slice(),
        statuses: this.counters.statuses.slice(),
        protocolErrors: this.counters.protocolErrors,
      },
      map: map === null ? null : { usable: map.usable(), reserved: map.reserved() },
      allocator: this.buddy === null ? null : this.buddy.getState(),
    };
  }

  /**
   * Puts a bridge that has served no call into an exported state: the allocator is rebuilt from the
   * saved memory map with this bridge's options and given the saved arrays (onAllocator is called).
   * Throws, changing nothing, when the state does not fit (another max order, per-CPU setting or RAM).
   */
  importState(s: BridgeSavedState): void {
    if (this.calls !== 0 || this.phase !== "boot") throw new Error("importState: the bridge has already served calls");
    let allocator: BuddyAllocator | null = null;
    let map: MemoryMap | null = null;
    if (s.map !== null && s.allocator !== null) {
      map = new MemoryMap();
      for (const r of s.map.usable) map.addUsable(r.base, r.end - r.base);
      for (const r of s.map.reserved) map.reserve(r.base, r.end - r.base, r.label);
      allocator = new BuddyAllocator(map, {
        ...(this.opts.maxOrder !== undefined ? { maxOrder: this.opts.maxOrder } : {}),
        ...(this.opts.pcp !== undefined ? { pcp: this.opts.pcp } : {}),
        memory: this.ram,
      });
      allocator.setState(s.allocator);
    }
    this.reservations.push(...s.reservations.map((r) => ({ ...r })));
    this.marks.push(...s.marks.map((m) => ({ ...m })));
    this.bootLog.push(...s.bootLog);
    this.counters.calls.set(s.counters.calls);
    this.counters.records.set(s.counters.records);
    this.counters.statuses.set(s.counters.statuses);
    this.counters.protocolErrors = s.counters.protocolErrors;
    this.calls = s.calls;
    this.phase = s.phase;
    // guestMs of a restored run counts from the restore (its first call is not call 0).
    if (this.now !== null) this.firstCallAt = this.now();
    this.buddy = allocator;
    this.map = map;
    if (allocator !== null && this.opts.onAllocator !== undefined) this.opts.onAllocator(allocator);
  }

  /** Port calls served so far: the deterministic clock of a run. */
  get seq(): number {
    return this.calls;
  }

  /** now() at the first call, or -1 (no clock, or no call yet). */
  get firstCallMs(): number {
    return this.firstCallAt;
  }

  /** now() at EXIT, or -1. */
  get exitMs(): number {
    return this.exitAt;
  }

  /** The current view of guest RAM (valid until the next setViews). */
  get guestRam(): Uint8Array {
    return this.ram;
  }

  /**
   * Stops the bridge because of a host failure outside a call (e.g. while refreshing views): records
   * it like an exception inside a call and reports it through onFatal. Later calls answer ESTATE.
   */
  abort(error: unknown, context: string): void {
    if (this.phase === "failed") return;
    this.recordFatal(`host error ${context}`, error);
  }

  /**
   * A 32-bit read of the port: one hypercall. Reads EAX (command), EBX, ECX, ESI (arguments);
   * writes the status to EBX; returns the result, which the CPU puts in EAX. Never throws.
   */
  portRead32(): number {
    const regs = this.reg32;
    const cmd = regs[EAX]! >>> 0;
    const arg0 = regs[EBX]! >>> 0;
    const arg1 = regs[ECX]! >>> 0;
    const arg2 = regs[ESI]! >>> 0;
    if (this.phase === "exited" || this.phase === "failed") {
      // EXIT does not return and a host error ends the run; calls racing the shutdown are ignored.
      regs[EBX] = ESTATE;
      return 0;
    }
    const seq = this.calls++;
    if (seq === 0 && this.now !== null) this.firstCallAt = this.now();
    let result = 0;
    try {
      this.counters.calls[cmd < 64 ? cmd : 64]!++;
      result = this.dispatch(cmd, arg0, arg1, arg2, seq);
      const status = this.status;
      if (status !== OK && cmd !== HELLO) result = 0;
      this.counters.statuses[status]!++;
      regs[EBX] = status;
      if (this.observer !== null) this.observer.onCall(seq, cmd, arg0, arg1, arg2, result, status);
    } catch (error) {
      this.fail(error, cmd, arg0, arg1, arg2, seq);
      regs[EBX] = ESTATE;
      return 0;
    }
    return result | 0;
  }

  /**
   * The bareTransport handler: the least a handler can do for the page commands (read EAX, answer
   * EBX and EAX, write each BATCH record's status and result), so that a guest loop runs its usual
   * path. Every other command, and any command before MEMMAP, goes to portRead32.
   */
  private bareRead32(): number {
    const regs = this.reg32;
    const cmd = regs[EAX]!;
    const page = this.barePage;
    if (page !== 0) {
      if (cmd === ALLOC_PAGES) {
        regs[EBX] = OK;
        return page;
      }
      if (cmd === FREE_PAGES) {
        regs[EBX] = OK;
        return 0;
      }
      if (cmd === BATCH) {
        const addr = regs[EBX]! >>> 0;
        const count = regs[ECX]! >>> 0;
        if (count !== 0 && count <= LIMITS.BATCH_MAX_RECORDS && inGuestRam(addr, count * RECORD_SIZE, this.ramSize)) {
          const words = this.words;
          const halves = this.halves;
          if (words !== null && halves !== null && (addr & 3) === 0) {
            for (let w = addr >>> 2, end = w + count * 4; w < end; w += 4) {
              halves[(w << 1) + 1] = OK;
              words[w + 3] = (words[w]! & 0xffff) === ALLOC_PAGES ? page : 0;
            }
          } else {
            const dv = this.dv;
            for (let p = addr, end = addr + count * RECORD_SIZE; p < end; p += RECORD_SIZE) {
              dv.setUint16(p + BATCH_RECORD.STATUS, OK, true);
              dv.setUint32(p + BATCH_RECORD.RESULT, dv.getUint16(p + BATCH_RECORD.CMD, true) === ALLOC_PAGES ? page : 0, true);
            }
          }
          regs[EBX] = OK;
          return count;
        }
      }
    }
    const result = this.portRead32();
    if (cmd === MEMMAP && this.buddy !== null && this.barePage === 0) this.barePage = Math.max(0, this.buddy.tryAllocPages(0, 0));
    return result;
  }

  /** An 8- or 16-bit read: all ones, counted as a protocol error. */
  portNarrowRead(allOnes: number): number {
    this.counters.protocolErrors++;
    if (this.observer !== null && this.observer.onPortMisuse !== undefined) this.portMisuse(allOnes === 0xff ? 1 : 2, false);
    return allOnes;
  }

  /** A write of any width: ignored, counted as a protocol error. */
  portWrite(): void {
    this.counters.protocolErrors++;
    if (this.observer !== null && this.observer.onPortMisuse !== undefined) this.portMisuse(0, true);
  }

  /** Tells the observer of a narrow read or a write; an observer exception stops the bridge like any host error. */
  private portMisuse(width: number, write: boolean): void {
    try {
      this.observer!.onPortMisuse!(this.calls, width, write);
    } catch (error) {
      this.abort(error, "in the observer of a port misuse");
    }
  }

  /**
   * Runs one call as the guest would, for tests and tools (allocates its answer: not the hot path).
   * Sets EAX/EBX/ECX/ESI in the register view, enters the port, and returns what the guest sees.
   */
  call(cmd: number, arg0 = 0, arg1 = 0, arg2 = 0): { result: number; status: number } {
    const regs = this.reg32;
    regs[EAX] = cmd;
    regs[EBX] = arg0;
    regs[ECX] = arg1;
    regs[ESI] = arg2;
    const result = this.portRead32() >>> 0;
    return { result, status: regs[EBX]! };
  }

  private dispatch(cmd: number, arg0: number, arg1: number, arg2: number, seq: number): number {
    switch (cmd) {
      case ALLOC_PAGES:
        return this.allocPages(arg0, arg1);
      case FREE_PAGES:
        return this.freePages(arg0, arg1);
      case STAT:
        return this.stat(arg0, arg1);
      case BATCH:
        return this.batch(arg0, arg1, seq);
      case ALLOC_CONTIG:
        if (this.buddy === null) return this.fail0(ESTATE);
        return this.allocResult(this.buddy.tryAllocContig(arg0, arg1, arg2));
      case FREE_CONTIG:
        if (this.buddy === null) return this.fail0(ESTATE);
        return this.freeResult(this.buddy.tryFreeContig(arg0, arg1));
      case HELLO:
        this.status = arg0 === ABI_VERSION ? OK : EVERSION;
        return ABI_VERSION;
      case MEMMAP:
        return this.memmap(arg0, arg1, arg2);
      case RESERVE:
        return this.reserve(arg0, arg1);
      case MARK:
        return this.mark(arg0, seq);
      case EXIT:
        return this.exit(arg0);
      default:
        return this.fail0(ENOSYS);
    }
  }

  private fail0(status: number): 0 {
    this.status = status;
    return 0;
  }

  private allocPages(order: number, gfp: number): number {
    if (this.buddy === null) return this.fail0(ESTATE);
    return this.allocResult(this.buddy.tryAllocPages(order, gfp));
  }

  private freePages(addr: number, order: number): number {
    if (this.buddy === null) return this.fail0(ESTATE);
    return this.freeResult(this.buddy.tryFreePages(addr, order));
  }

  /** Maps the allocator's alloc convention (> 0 address, 0 ENOMEM, < 0 -status) to result + status. */
  private allocResult(r: number): number {
    if (r > 0) {
      if ((r & 0xfff) !== 0 || r >= this.ramSize) throw new Error(`invariant: allocator returned 0x${r.toString(16)}, not a frame inside RAM`);
      this.status = OK;
      return r;
    }
    if (r === 0) return this.fail0(ENOMEM);
    if (!(r >= -ALLOCATOR_STATUS_MAX && r <= -EINVAL)) throw new Error(`invariant: allocator returned ${r}, not an address or -status`);
    return this.fail0(-r);
  }

  private freeResult(status: number): 0 {
    if (!(status >= OK && status <= ALLOCATOR_STATUS_MAX && status !== ENOMEM)) throw new Error(`invariant: allocator free returned status ${status}`);
    this.status = status;
    return 0;
  }

  private stat(item: number, arg: number): number {
    const a = this.buddy;
    if (a === null) return this.fail0(ESTATE);
    this.status = OK;
    switch (item) {
      case Stat.FREE_PAGES:
        return a.freePageCount;
      case Stat.MANAGED_PAGES:
        return a.managedPageCount;
      case Stat.MAX_ORDER:
        return a.maxOrder;
      case Stat.FREE_BLOCKS:
        if (arg > a.maxOrder) return this.fail0(EINVAL);
        return a.freeBlockCount(arg);
      case Stat.ZONES:
        return a.zoneCount;
      default:
        return this.fail0(EINVAL);
    }
  }

  /** BATCH: runs `count` 16-byte records at addr in order; returns how many ended OK. */
  private batch(addr: number, count: number, seq: number): number {
    const buddy = this.buddy;
    if (buddy === null) return this.fail0(ESTATE);
    if (count === 0 || count > LIMITS.BATCH_MAX_RECORDS) return this.fail0(EINVAL);
    if (!inGuestRam(addr, count * RECORD_SIZE, this.ramSize)) return this.fail0(EFAULT);
    const words = this.words;
    const halves = this.halves;
    const observer = this.observer;
    if (words === null || halves === null || (addr & 3) !== 0 || (observer !== null && observer.onRecord !== undefined)) {
      return this.batchRecords(addr, count, seq);
    }
    // The fast path: ALLOC_PAGES and FREE_PAGES records that end OK are served right here (the
    // allocator's fast paths inline into this loop) and counted once at the end; anything else
    // goes through the same code as the slow path. Same order, reads and writes as batchRecords.
    const records = this.counters.records;
    const statuses = this.counters.statuses;
    const ramSize = this.ramSize;
    let allocs = 0;
    let frees = 0;
    let ok = 0;
    try {
      for (let w = addr >>> 2, end = w + count * 4; w < end; w += 4) {
        const cmd = words[w]! & 0xffff;
        const arg0 = words[w + 1]! >>> 0;
        const arg1 = words[w + 2]! >>> 0;
        let result: number;
        // Each record reaches the allocator once: a second try would consult a fault predicate
        // again and tell a listener twice, so the answers that are not a plain OK are mapped here.
        if (cmd === ALLOC_PAGES) {
          const r = buddy.tryAllocPages(arg0, arg1);
          if (r > 0 && (r & 0xfff) === 0 && r < ramSize) {
            halves[(w << 1) + 1] = OK;
            words[w + 3] = r;
            allocs++;
            continue;
          }
          result = this.allocResult(r);
        } else if (cmd === FREE_PAGES) {
          const freed = buddy.tryFreePages(arg0, arg1);
          if (freed === OK) {
            halves[(w << 1) + 1] = OK;
            words[w + 3] = 0;
            frees++;
            continue;
          }
          result = this.freeResult(freed);
        } else {
          result = this.record(cmd, arg0, arg1);
        }
        const status = this.status;
        if (status !== OK) result = 0;
        halves[(w << 1) + 1] = status;
        words[w + 3] = result;
        records[cmd < 64 ? cmd : 64]!++;
        statuses[status]!++;
        if (status === OK) ok++;
      }
    } finally {
      records[ALLOC_PAGES]! += allocs;
      records[FREE_PAGES]! += frees;
      statuses[OK]! += allocs + frees;
    }
    this.status = OK;
    return ok + allocs + frees;
  }

  /** One BATCH record off the fast path; leaves its status in this.status. */
  private record(cmd: number, arg0: number, arg1: number): number {
    let result: number;
    if (cmd === ALLOC_PAGES) result = this.allocPages(arg0, arg1);
    else if (cmd === FREE_PAGES) result = this.freePages(arg0, arg1);
    else if (cmd === STAT) result = this.stat(arg0, arg1);
    else result = this.fail0(EINVAL);
    return this.status === OK ? result : 0;
  }

  /** BATCH records through DataView, one at a time, each told to the observer. */
  private batchRecords(addr: number, count: number, seq: number): number {
    const dv = this.dv;
    const counters = this.counters;
    const observer = this.observer;
    let ok = 0;
    for (let i = 0; i < count; i++) {
      const p = addr + i * RECORD_SIZE;
      const cmd = dv.getUint16(p + BATCH_RECORD.CMD, true);
      const arg0 = dv.getUint32(p + BATCH_RECORD.ARG0, true);
      const arg1 = dv.getUint32(p + BATCH_RECORD.ARG1, true);
      const result = this.record(cmd, arg0, arg1);
      const status = this.status;
      if (status === OK) ok++;
      dv.setUint16(p + BATCH_RECORD.STATUS, status, true);
      dv.setUint32(p + BATCH_RECORD.RESULT, result, true);
      counters.records[cmd < 64 ? cmd : 64]!++;
      counters.statuses[status]!++;
      if (observer !== null && observer.onRecord !== undefined) observer.onRecord(seq, i, cmd, arg0, arg1, result, status);
    }
    this.status = OK;
    return ok;
  }

  private reserve(base: number, length: number): number {
    if (this.buddy !== null) return this.fail0(ESTATE);
    if (length === 0 || base + length > 2 ** 32) return this.fail0(EINVAL);
    if (this.reservations.length >= LIMITS.RESERVE_MAX_RANGES) return this.fail0(EINVAL);
    this.reservations.push({ base, length });
    this.status = OK;
    return 0;
  }

  /** MEMMAP: validates the multiboot structures, reserves, builds the allocator, logs the map. */
  private memmap(infoAddr: number, imageStart: number, imageEnd: number): number {
    if (this.buddy !== null) return this.fail0(ESTATE);
    if (imageEnd < imageStart) return this.fail0(EINVAL);
    const parsed = readMultibootInfo(this.ram, this.dv, infoAddr);
    if (parsed.info === null) return this.fail0(parsed.status);
    const map = buildMemoryMap(parsed.info, this.ramSize, imageStart, imageEnd, this.reservations);
    // A map that leaves no frame to manage is a malformed structure, not a host failure.
    if (map.managedPageCount() === 0) return this.fail0(EINVAL);
    const allocator = new BuddyAllocator(map, {
      ...(this.opts.maxOrder !== undefined ? { maxOrder: this.opts.maxOrder } : {}),
      ...(this.opts.pcp !== undefined ? { pcp: this.opts.pcp } : {}),
      memory: this.ram,
    });
    this.buddy = allocator;
    this.map = map;
    this.phase = "running";
    if (this.opts.onAllocator !== undefined) this.opts.onAllocator(allocator);
    for (const line of formatMemoryMapLog(parsed.info, this.ramSize, map, allocator)) this.log(line);
    const elf = this.opts.kernelElf;
    if (elf !== undefined && elf !== null) {
      for (const s of segmentsOutsideImage(elf.loadSegments, imageStart, imageEnd)) this.log(formatImageWarning(s, imageStart, imageEnd));
    }
    this.status = OK;
    return allocator.managedPageCount;
  }

  /** MARK: reads a NUL-terminated label of at most 63 bytes and records it. */
  private mark(addr: number, seq: number): number {
    const max = LIMITS.MARK_LABEL_MAX + 1; // with its NUL
    const ramBytes = this.ramSize;
    const window = addr < ramBytes ? Math.min(max, ramBytes - addr) : 0;
    const nul = window > 0 && inGuestRam(addr, 1, ramBytes) ? this.ram.subarray(addr, addr + window).indexOf(0) : -1;
    if (nul < 0 || !inGuestRam(addr, nul + 1, ramBytes)) {
      // No NUL in 64 bytes of RAM is an unterminated label; RAM ending first is a bad pointer.
      return this.fail0(nul < 0 && window === max && inGuestRam(addr, max, ramBytes) ? EINVAL : EFAULT);
    }
    const label = new TextDecoder().decode(this.ram.subarray(addr, addr + nul));
    this.marks.push({ seq, label });
    this.log(`mark: "${label}" at call ${seq}`);
    this.status = OK;
    return 0;
  }

  private exit(code: number): number {
    this.exitStatus = code;
    this.phase = "exited";
    if (this.now !== null) this.exitAt = this.now();
    this.log(`guest EXIT(${code}) after ${this.calls} calls`);
    this.status = OK;
    if (this.opts.onExit !== undefined) this.opts.onExit(code);
    return 0;
  }

  private log(line: string): void {
    this.bootLog.push(line);
    if (this.opts.log !== undefined) this.opts.log(line);
  }

  private fail(error: unknown, cmd: number, arg0: number, arg1: number, arg2: number, seq: number): void {
    const name = commandName(cmd) ?? `0x${cmd.toString(16)}`;
    let where = "";
    try {
      where = this.opts.where !== undefined ? ` at ${this.opts.where()}` : "";
    } catch {
      where = "";
    }
    const args = [arg0, arg1, arg2].map((a) => "0x" + a.toString(16)).join(", ");
    this.recordFatal(`host error in ${name}(${args}), call ${seq}${where}`, error);
  }

  private recordFatal(context: string, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    const fatal = new HostError(`${context}: ${reason}`, { cause: error });
    this.fatal = fatal;
    this.phase = "failed";
    this.log(fatal.message);
    if (this.opts.onFatal !== undefined) {
      try {
        this.opts.onFatal(fatal);
      } catch {
        // The runner's handler must not throw into the emulator either; the error stays recorded.
      }
    }
  }
}
