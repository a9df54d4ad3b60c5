// The hypercall bridge's public types (bridge.ts): what an observer sees and may read of the guest
// CPU, the bridge's options, the guest's MARKs, the error our own code raises inside a call, and the
// state a checkpoint saves.

import type { BuddyAllocator, BuddyState, PcpOptions, PhysRange, ReservedRange } from "../mem/index.js";
import type { HypercallBridge } from "./bridge.js";
import type { GuestStateInWasm } from "../host/v86-cpu.js";
import type { Elf32Image } from "./elf.js";
import type { GuestReservation } from "./memmap.js";

/** Sees every call after it is answered. Called on the hot path: keep it cheap; throwing stops the run. */
export interface BridgeObserver {
  /** Called once, when the bridge is built: gives access to guestRam, the allocator and counters. */
  attach?(bridge: HypercallBridge): void;
  /**
   * Called when importState() restored a checkpoint's allocator (before any call of the restored
   * run): an observer that listens to the allocator hooks it here, or misses the first call's events.
   */
  onRestore?(): void;
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
 * Guest CPU state an observer may read while a call is being served (src/host/v86-cpu.ts
 * PortRegisters provides it; tests pass fakes). Valid only inside a port handler: every view is
 * refreshed on port entry, and none is checked again when read.
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
  /**
   * Where guest RAM and the CPU state lie in the WebAssembly memory the emulator runs in, for observers
   * that read them from WebAssembly (observe/call-sampler-wasm.ts); absent for a guest not in one.
   */
  readonly stateInWasm?: GuestStateInWasm;
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
