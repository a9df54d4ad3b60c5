// The hypercall bridge: the host end of the buddy86 ABI (docs/protocol.md). A guest's 32-bit `in`
// from HC_PORT lands in portRead32(), which reads EAX/EBX/ECX/ESI, runs the command against the
// allocator, writes the status to EBX and returns the result for EAX. The bridge knows nothing of
// v86: it works on a RAM view and a register view, so tests drive it over a plain Uint8Array.
//
// Three kinds of failure, one mechanism each: a bad guest request is a status; no memory is ENOMEM;
// an exception from our own code (the allocator, an invariant, an observer) is a host error that
// stops the bridge and is reported through onFatal, never thrown into the emulator's loop.
// Hot path (ALLOC/FREE/STAT/BATCH): no allocation, no closure, no Proxy; counters are typed arrays.
// The bridge's state and cold commands are in bridge-core.ts, its public types in bridge-types.ts.

import { ABI_VERSION, BATCH_RECORD, Cmd, LIMITS, Stat, Status } from "../protocol/abi.js";
import { inGuestRam } from "./memmap.js";
import type { PortHandlers } from "../host/v86-cpu.js";
import { BridgeCore } from "./bridge-core.js";
import type { BridgeOptions } from "./bridge-types.js";

export { HostError, type BridgeObserver, type BridgeOptions, type BridgeSavedState, type BridgeState, type GuestMark, type GuestRegisters } from "./bridge-types.js";

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

export class HypercallBridge extends BridgeCore {
  /** Handlers for every width of the port, to register with the CPU (built once). */
  readonly portHandlers: PortHandlers;
  /** bareTransport: the one frame every trivial ALLOC_PAGES returns (0 until MEMMAP took it). */
  private barePage = 0;

  constructor(options: BridgeOptions) {
    super(options);
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

  /**
   * The port handlers of a run under control (RunGate): portHandlers, but read32 tells `gate` once
   * the calls answered reach its pauseAt. The test sits in read32's own closure: wrapped in a closure
   * of the gate's around portHandlers.read32, each call went through one more JavaScript function,
   * and Chromium's V8 then left the bridge's dispatch out of line too (docs/web-speed.md). One
   * closure per transport, as portHandlers has: a choice inside would test the transport every call.
   */
  gatedHandlers(gate: { readonly pauseAt: number; halt(): void }): PortHandlers {
    const read32 = this.opts.bareTransport === true
      ? (): number => {
          const result = this.bareRead32();
          if (this.calls >= gate.pauseAt) gate.halt();
          return result;
        }
      : (): number => {
          const result = this.portRead32();
          if (this.calls >= gate.pauseAt) gate.halt();
          return result;
        };
    return { ...this.portHandlers, read32 };
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

  private allocPages(order: number, gfp: number): number {
    if (this.buddy === null) return this.fail0(ESTATE);
    return this.allocResult(this.buddy.tryAllocPages(order, gfp));
  }

  private freePages(addr: number, order: number): number {
    if (this.buddy === null) return this.fail0(ESTATE);
    this.freeAddr = addr;
    this.freeOrder = order;
    const status = this.buddy.tryFreePages(addr, order);
    this.freeAddr = -1;
    return this.freeResult(status);
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
}
