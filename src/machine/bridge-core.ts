// The hypercall bridge's state and its cold commands (bridge.ts has the port and the hot ones): the
// guest RAM and register views, the allocator MEMMAP builds, RESERVE, MARK and EXIT, the boot log, the
// checkpoint state, and how a host error stops the bridge. HypercallBridge extends this class.

import { LIMITS, Status, commandName } from "../protocol/abi.js";
import { BuddyAllocator, MemoryMap } from "../mem/index.js";
import { BridgeCounters } from "./counters.js";
import { buildMemoryMap, inGuestRam, readMultibootInfo, type GuestReservation } from "./memmap.js";
import { formatImageWarning, formatMemoryMapLog, segmentsOutsideImage } from "./boot-log.js";
import { HostError, type BridgeObserver, type BridgeOptions, type BridgeSavedState, type BridgeState, type GuestMark } from "./bridge-types.js";

const OK = Status.OK;
const EINVAL = Status.EINVAL;
const EFAULT = Status.EFAULT;
const ESTATE = Status.ESTATE;

/** Typed arrays are host-endian; the records' fast path needs little-endian (every host v86 runs on). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export class BridgeCore {
  readonly counters = new BridgeCounters();
  readonly bootLog: string[] = [];
  readonly marks: GuestMark[] = [];
  /** RESERVE ranges collected before MEMMAP. */
  readonly reservations: GuestReservation[] = [];

  protected ram: Uint8Array;
  protected dv: DataView;
  /**
   * Guest RAM as 32-bit words and 16-bit halves, for BATCH records at 4-byte aligned addresses;
   * null when the RAM view itself is not 4-byte aligned (or the host is big-endian): DataView then.
   */
  protected words: Int32Array | null = null;
  protected halves: Uint16Array | null = null;
  protected reg32: Int32Array;
  protected readonly opts: BridgeOptions;
  /** Guest RAM size in bytes, fixed for the bridge's life. */
  protected readonly ramSize: number;
  protected readonly now: (() => number) | null;
  protected readonly observer: BridgeObserver | null;
  /** The status of the last command run, set by the command methods (avoids returning pairs). */
  protected status = OK;
  protected buddy: BuddyAllocator | null = null;
  protected map: MemoryMap | null = null;
  protected phase: BridgeState = "boot";
  protected exitStatus: number | null = null;
  protected fatal: HostError | null = null;
  protected calls = 0;
  /**
   * The page free being served (FREE_PAGES, a call or a BATCH record): its address, or -1 between
   * frees, and its order (freeInProgress).
   */
  protected freeAddr = -1;
  protected freeOrder = 0;
  protected firstCallAt = -1;
  protected exitAt = -1;

  constructor(options: BridgeOptions) {
    this.opts = options;
    this.ram = options.ram;
    this.reg32 = options.reg32;
    this.ramSize = options.ram.length;
    this.dv = new DataView(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength);
    this.buildRecordViews();
    this.now = options.now ?? null;
    this.observer = options.observer ?? null;
  }

  /**
   * The address of the page free being served (-1 when none is), and freeOrderInProgress its order.
   * The event hub reports page requests itself (BuddyListener.reportsPageRequests) when a call or a
   * BATCH record ends; a free that merges or drains tells of those first, and the hub, reading this,
   * tells of the free before them, in the allocator's own order.
   */
  get freeInProgress(): number {
    return this.freeAddr;
  }

  get freeOrderInProgress(): number {
    return this.freeOrder;
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
    if (this.observer !== null && this.observer.onRestore !== undefined) this.observer.onRestore();
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

  protected fail0(status: number): 0 {
    this.status = status;
    return 0;
  }

  protected reserve(base: number, length: number): number {
    if (this.buddy !== null) return this.fail0(ESTATE);
    if (length === 0 || base + length > 2 ** 32) return this.fail0(EINVAL);
    if (this.reservations.length >= LIMITS.RESERVE_MAX_RANGES) return this.fail0(EINVAL);
    this.reservations.push({ base, length });
    this.status = OK;
    return 0;
  }

  /** MEMMAP: validates the multiboot structures, reserves, builds the allocator, logs the map. */
  protected memmap(infoAddr: number, imageStart: number, imageEnd: number): number {
    if (this.buddy !== null) return this.fail0(ESTATE);
    if (imageEnd < imageStart) return this.fail0(EINVAL);
    const parsed = readMultibootInfo(this.ram, this.dv, infoAddr);
    if (parsed.info === null) return this.fail0(parsed.status);
    const map = buildMemoryMap(parsed.info, this.ramSize, imageStart, imageEnd, this.reservations);
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
  protected mark(addr: number, seq: number): number {
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

  protected exit(code: number): number {
    this.exitStatus = code;
    this.phase = "exited";
    if (this.now !== null) this.exitAt = this.now();
    this.log(`guest EXIT(${code}) after ${this.calls} calls`);
    this.status = OK;
    if (this.opts.onExit !== undefined) this.opts.onExit(code);
    return 0;
  }

  protected log(line: string): void {
    this.bootLog.push(line);
    if (this.opts.log !== undefined) this.opts.log(line);
  }

  protected fail(error: unknown, cmd: number, arg0: number, arg1: number, arg2: number, seq: number): void {
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
