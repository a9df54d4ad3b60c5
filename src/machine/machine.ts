// The machine runner: boots a multiboot kernel in v86 with the hypercall bridge on HC_PORT, captures
// COM1 as the guest log, and runs until the guest's EXIT, a timeout, a guest crash or a host error.
// Whatever happens, the emulator is destroyed before runMachine settles, so the process (or page)
// is left with no timers. Node or browser specifics come in through `platform`.
//
// Outcomes: invalid options or an unbootable kernel reject with MachineConfigError before anything
// runs; every outcome of a run resolves with a MachineResult whose `reason` says how it ended.

import { V86 } from "v86";
import { HC_PORT, MULTIBOOT } from "../protocol/abi.js";
import type { BuddyAllocator, MemoryMap, PcpOptions } from "../mem/index.js";
import { DEFAULT_MAX_ORDER, MAX_MAX_ORDER } from "../mem/constants.js";
import { GuestCpu, REG_EAX, cacheJitModules, guardMainLoop, onCpuHalt, pauseGuest, resumeGuest } from "../host/v86-cpu.js";
import { jitModuleCache } from "../host/wasm-cache.js";
import type { Platform } from "../host/platform.js";
import { HypercallBridge, type BridgeObserver, type GuestMark } from "./bridge.js";
import { BridgeCounters, type CountersSnapshot } from "./counters.js";
import { symbolize, type Elf32Image } from "./elf.js";
import { checkKernelImage, KernelImageError } from "./kernel-image.js";
import { RunGate, type GateHost, type MachineControl } from "./run-control.js";
import { SerialLog } from "./serial-log.js";
import { applyCheckpoint, captureCheckpoint, type AllocatorHook, type MachineCheckpoint, type RunContext } from "../debug/checkpoint.js";

export type { MachineControl } from "./run-control.js";

/** v86 rounds RAM to 128 KiB; the largest size that boots is 2 GiB - 128 KiB. */
export const MEMORY_GRANULE = 128 * 1024;
export const MEMORY_MAX_BYTES = 0x7ffe0000;
/** Below this v86 silently rounds up, and the kernel (loaded at 1 MiB) would not fit anyway. */
export const MEMORY_MIN_BYTES = 2 * 1024 * 1024;
export const DEFAULT_MEMORY_BYTES = 128 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 60_000;
const VGA_MEMORY_BYTES = 256 * 1024;
const DESTROY_TIMEOUT_MS = 5_000;

export interface MachineOptions {
  /** The multiboot kernel file (ELF, or a binary using the a.out kludge). */
  kernel: Uint8Array;
  /** Environment: wasm location, clock, uncaught-exception guard (nodePlatform() / browserPlatform()). */
  platform: Platform;
  /** Guest RAM in bytes: a multiple of 128 KiB in [2 MiB, 2 GiB - 128 KiB]. Default 128 MiB. */
  memoryBytes?: number;
  /** The multiboot command line, e.g. "workload=churn ops=1000". */
  cmdline?: string;
  /** Allocator max order (inclusive), 0..18. Default 10. */
  maxOrder?: number;
  /** Per-CPU cache, or false for a pure buddy allocator. Default Linux's { high: 378, batch: 63 }. */
  pcp?: PcpOptions;
  /** The run ends with reason "timeout" after this many ms. Default 60 s. */
  timeoutMs?: number;
  /**
   * The kernel's ELF for the PT_LOAD check at MEMMAP and for naming EIPs. Default: parsed from
   * `kernel` when it is an ELF. null disables both.
   */
  kernelElf?: Elf32Image | null;
  /** Each complete line the guest prints on COM1, as it arrives. */
  onGuestLine?: (line: string) => void;
  /** Each boot-log line (memory map, reservations, zones, marks, warnings), as it is written. */
  onBootLogLine?: (line: string) => void;
  /** Sees every hypercall; absent means no cost. */
  observer?: BridgeObserver | null;
  /**
   * Run control for interactive hosts (the web page): called once, just before the guest's first
   * instruction, with a handle that pauses the guest between two hypercalls, steps it N calls or
   * stops the run (MachineControl). Absent, the port handlers are v86's direct ones: no cost.
   */
  onControl?: (control: MachineControl) => void;
  /** Benchmark only: the bridge's trivial page-command handler (BridgeOptions.bareTransport). */
  bareTransport?: boolean;
  /**
   * v86's own wasm (platform.wasmPath), compiled once by the caller: v86 then instantiates it
   * instead of reading and compiling 2 MB of wasm at every boot (about 40 ms of CPU each, measured).
   * For callers that boot many machines (tests, benchmarks). Must be compiled from v86.wasm.
   */
  wasmModule?: WebAssembly.Module;
  /**
   * Called when the allocator exists (MEMMAP built it, or restoreFrom restored it): debug tools
   * (src/debug: poison, fault injection) attach their listener and fail predicate here.
   */
  onAllocator?: AllocatorHook;
  /**
   * Take a checkpoint after this many calls (the guest paused right after that call's `in`) and
   * hand it to onCheckpoint; the run then goes on. Not together with onControl.
   */
  checkpointAtCall?: number;
  onCheckpoint?: (checkpoint: MachineCheckpoint) => void;
  /**
   * Start from a checkpoint (src/debug/checkpoint.ts) instead of the kernel's entry. It must come from
   * the same kernel, memory size and allocator options (a mismatch rejects with MachineConfigError).
   */
  restoreFrom?: MachineCheckpoint;
}

/** "stopped": MachineControl.stop() ended the run. */
export type MachineEndReason = "exit" | "timeout" | "fault" | "host-error" | "stopped";

export interface MachineResult {
  /** The guest's EXIT code (uint32), or null when it did not EXIT. */
  exitCode: number | null;
  reason: MachineEndReason;
  /** One line saying how the run ended, with EIP for faults and timeouts. */
  message: string;
  /** The exception behind a "fault" or "host-error", else null. */
  error: Error | null;
  /** Everything the guest wrote to COM1. */
  guestLog: string;
  /** Host lines: kernel warnings, the memory map, reservations, zones, marks, warnings, the end. */
  bootLog: string[];
  counters: CountersSnapshot;
  /** The allocator after the run (null when the guest never completed MEMMAP). */
  allocator: BuddyAllocator | null;
  memoryMap: MemoryMap | null;
  marks: GuestMark[];
  memoryBytes: number;
  /** From runMachine() to the end of the run (emulator construction and boot included). */
  wallMs: number;
  /** From the first hypercall to EXIT (or the end of the run), minus the time paused (MachineControl). */
  guestMs: number;
  /**
   * guestMs per port call, in ns: what one hypercall costs end to end (the `in`, the handler, the
   * allocator, GFP_ZERO, and the guest's own loop between calls). null without calls.
   */
  bridgeNsPerCall: number | null;
  /** How often v86 replaced its wasm memory during the run (the views were rebuilt each time). */
  memoryGrowths: number;
}

/** The options cannot work, or the kernel cannot boot; nothing ran. */
export class MachineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MachineConfigError";
  }
}

/** Throws MachineConfigError unless bytes is a RAM size v86 boots exactly as given. */
export function validateMemoryBytes(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < MEMORY_MIN_BYTES || bytes > MEMORY_MAX_BYTES) {
    throw new MachineConfigError(
      `memory size ${bytes} is out of range: use 2 MiB .. 2 GiB - 128 KiB (${MEMORY_MAX_BYTES} bytes; v86 clamps or wraps larger sizes)`,
    );
  }
  if (bytes % MEMORY_GRANULE !== 0) {
    throw new MachineConfigError(`memory size ${bytes} is not a multiple of 128 KiB (v86 rounds RAM up to 128 KiB)`);
  }
}

function validateOptions(options: MachineOptions, memoryBytes: number, timeoutMs: number): void {
  validateMemoryBytes(memoryBytes);
  const maxOrder = options.maxOrder ?? DEFAULT_MAX_ORDER;
  if (!Number.isInteger(maxOrder) || maxOrder < 0 || maxOrder > MAX_MAX_ORDER) {
    throw new MachineConfigError(`max order ${maxOrder} is not an integer in 0..${MAX_MAX_ORDER}`);
  }
  const pcp = options.pcp;
  if (pcp !== undefined && pcp !== false && !(Number.isInteger(pcp.batch) && Number.isInteger(pcp.high) && pcp.batch >= 1 && pcp.high >= pcp.batch)) {
    throw new MachineConfigError(`pcp needs integers 1 <= batch <= high, got ${JSON.stringify(pcp)}`);
  }
  if (!(timeoutMs > 0)) throw new MachineConfigError(`timeout ${timeoutMs} ms is not positive`);
  const at = options.checkpointAtCall;
  const from = options.restoreFrom?.calls ?? 0;
  if (at !== undefined && !(Number.isInteger(at) && at > from)) throw new MachineConfigError(`checkpoint call ${at} is not a call after ${from}`);
  if (options.restoreFrom !== undefined && options.restoreFrom.memoryBytes !== memoryBytes)
    throw new MachineConfigError(`the checkpoint is of a ${options.restoreFrom.memoryBytes}-byte guest, not ${memoryBytes}`);
}

/**
 * Boots `options.kernel` and runs it to the end. Rejects with MachineConfigError for bad options or
 * an unbootable kernel; otherwise resolves when the run is over and the emulator is destroyed.
 */
export async function runMachine(options: MachineOptions): Promise<MachineResult> {
  const platform = options.platform;
  const startMs = platform.now();
  const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  validateOptions(options, memoryBytes, timeoutMs);
  let check;
  try {
    check = checkKernelImage(options.kernel, memoryBytes);
  } catch (error) {
    if (error instanceof KernelImageError) throw new MachineConfigError(error.message);
    throw error;
  }
  const elf = options.kernelElf === undefined ? check.elf : options.kernelElf;
  return new Promise<MachineResult>((resolve, reject) => {
    new MachineRun(options, memoryBytes, timeoutMs, elf, startMs, check.warnings, resolve, reject).start();
  });
}

/** One run: owns the emulator, the bridge and every listener, and tears all of them down once. */
class MachineRun implements GateHost {
  private emulator: V86 | null = null;
  private cpu: GuestCpu | null = null;
  private bridge: HypercallBridge | null = null;
  private readonly serial: SerialLog;
  private readonly bootLog: string[] = [];
  private readonly cleanups: (() => void)[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ended = false;
  private endMs = 0;
  /** Run control (MachineOptions.onControl): when the timeout fires, and time spent paused. */
  private timerDeadline = 0;
  private timeoutLeftMs = 0;
  private pausedMs = 0;
  private pausedAt = -1;
  /** The guest's COM1 output before a restored checkpoint. */
  private guestLogPrefix = "";

  constructor(
    private readonly options: MachineOptions,
    private readonly memoryBytes: number,
    private readonly timeoutMs: number,
    private readonly elf: Elf32Image | null,
    private readonly startMs: number,
    warnings: string[],
    private readonly resolve: (result: MachineResult) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.serial = new SerialLog((line) => this.guestLine(line));
    for (const w of warnings) this.log(w);
  }

  start(): void {
    const platform = this.options.platform;
    this.cleanups.push(
      platform.guardUncaught((error) => {
        const loading = this.cpu === null ? ` while v86 was loading (is the wasm path right? ${platform.wasmPath})` : " during the run";
        this.end("host-error", `an exception escaped${loading}`, toError(error));
      }),
    );
    this.armTimeout(this.timeoutMs);
    try {
      const emulator = new V86({
        wasm_path: platform.wasmPath,
        ...(this.options.wasmModule !== undefined ? { wasm_fn: instantiateWith(this.options.wasmModule) } : {}),
        memory_size: this.memoryBytes,
        vga_memory_size: VGA_MEMORY_BYTES,
        // In a page, v86 would otherwise start an audio worklet (blocked by a strict CSP) and take
        // the page's keyboard and mouse events; the guest needs none of them. (Ignored under Node.)
        disable_speaker: true,
        disable_keyboard: true,
        disable_mouse: true,
        multiboot: { buffer: copyToArrayBuffer(this.options.kernel) },
        cmdline: this.options.cmdline ?? "",
        autostart: false,
      });
      this.emulator = emulator;
      emulator.add_listener("emulator-loaded", () => this.guarded(() => this.loaded()));
      emulator.add_listener("serial0-output-byte", (byte) => this.serial.push(byte));
    } catch (error) {
      this.end("host-error", "v86 could not be created", toError(error));
    }
  }

  /** After v86 loaded the kernel and before the first guest instruction: verify, wire up, run. */
  private loaded(): void {
    const emulator = this.emulator!;
    const cpu = new GuestCpu(emulator);
    this.cpu = cpu;
    if (!cpu.protectedMode || cpu.reg32[REG_EAX]! >>> 0 !== MULTIBOOT.BOOTLOADER_MAGIC) {
      this.configError("no multiboot header in the first 8 KiB: v86 did not boot the kernel in protected mode");
      return;
    }
    const bridge = new HypercallBridge({
      ram: cpu.ram,
      reg32: cpu.reg32,
      ...(this.options.maxOrder !== undefined ? { maxOrder: this.options.maxOrder } : {}),
      ...(this.options.pcp !== undefined ? { pcp: this.options.pcp } : {}),
      kernelElf: this.elf,
      log: (line) => this.log(line),
      now: this.options.platform.now,
      observer: this.options.observer ?? null,
      ...(this.options.bareTransport === true ? { bareTransport: true } : {}),
      ...(this.options.onAllocator !== undefined ? { onAllocator: (a: BuddyAllocator) => this.options.onAllocator!(a, this.runContext()) } : {}),
      onExit: (code) => this.end("exit", `guest exited with code ${code}`, null),
      onFatal: (error) => this.end("host-error", error.message, error),
      where: () => this.where(),
    });
    this.bridge = bridge;
    const observer = this.options.observer;
    if (observer !== undefined && observer !== null && observer.attachGuest !== undefined) observer.attachGuest(cpu.portRegisters);
    cpu.onViews((ram, reg32) => bridge.setViews(ram, reg32));
    if (this.options.restoreFrom !== undefined && !this.restore(this.options.restoreFrom, emulator, cpu, bridge)) return;
    const onControl = this.options.onControl;
    const gate = onControl === undefined && this.options.checkpointAtCall === undefined ? null : new RunGate(bridge, this);
    cpu.registerPort(HC_PORT, gate?.handlers ?? bridge.portHandlers, (error) => bridge.abort(error, "while refreshing guest memory views"));
    this.cleanups.push(
      guardMainLoop(emulator, (error) => {
        // v86's wasm core panics ("unreachable") when it cannot deliver a CPU exception: no usable
        // IDT, or a fault while delivering one (what would be a triple fault on hardware).
        const hint = error instanceof WebAssembly.RuntimeError ? " (v86 could not deliver a CPU exception: no usable IDT, or a triple fault)" : "";
        this.end("fault", `v86 stopped at ${this.where()}${hint}`, toError(error));
      }),
    );
    // The guest's JIT modules compiled once per process (or browser worker), not once per run.
    this.cleanups.push(cacheJitModules(emulator, jitModuleCache, (error) => this.end("host-error", `v86's JIT could not load a compiled module: ${toError(error).message}`, toError(error))));
    this.cleanups.push(
      onCpuHalt(emulator, () => {
        // hlt with interrupts off never resumes: the guest gave up without EXIT.
        if (!cpu.interruptsEnabled) this.end("fault", `guest halted with interrupts disabled at ${this.where()} before EXIT`, null);
      }),
    );
    if (onControl !== undefined && gate !== null) this.guarded(() => onControl(gate));
    if (this.options.checkpointAtCall !== undefined && gate !== null) this.armCheckpoint(this.options.checkpointAtCall, gate, emulator, bridge);
    if (!this.ended) void emulator.run();
  }

  /** What onAllocator hooks see: the bridge, the guest CPU, symbols, and a way to stop the run. */
  private runContext(): RunContext {
    const stop = (message: string): void => {
      // Halt the guest at once (after the instruction in progress), not at the end of v86's time slice.
      if (this.emulator !== null && !this.ended) void pauseGuest(this.emulator);
      this.end("fault", message, null);
    };
    return { bridge: this.bridge!, guest: this.cpu, elf: this.elf, stop };
  }

  /** restoreFrom: v86, the bridge and the logs as the checkpoint has them. False (rejected) when it does not fit. */
  private restore(checkpoint: MachineCheckpoint, emulator: V86, cpu: GuestCpu, bridge: HypercallBridge): boolean {
    try {
      applyCheckpoint(emulator, cpu, bridge, checkpoint);
    } catch (error) {
      this.configError(`cannot restore the checkpoint: ${toError(error).message}`);
      return false;
    }
    this.guestLogPrefix = checkpoint.guestLog;
    this.bootLog.length = 0;
    this.bootLog.push(...checkpoint.bootLog);
    this.log(`restored a checkpoint taken after call ${checkpoint.calls}`);
    return true;
  }

  /** checkpointAtCall: the guest pauses right after call `at`; the checkpoint is taken, the guest goes on. */
  private armCheckpoint(at: number, gate: RunGate, emulator: V86, bridge: HypercallBridge): void {
    gate.step(at - bridge.seq);
    gate.onPause = (calls) => {
      if (calls !== at) return;
      this.guarded(() => {
        const log = this.guestLogPrefix + this.serial.text();
        this.options.onCheckpoint?.(captureCheckpoint(emulator, bridge, this.memoryBytes, log, this.bootLog));
      });
      gate.resume();
    };
  }

  private armTimeout(ms: number): void {
    this.timerDeadline = this.options.platform.now() + ms;
    this.timer = setTimeout(() => this.end("timeout", `timeout after ${this.timeoutMs} ms`, null), ms);
  }

  /** For RunGate (GateHost): stops the guest after the call just answered; the timeout waits while paused. */
  pauseRun(): Promise<void> {
    const now = this.options.platform.now();
    this.pausedAt = now;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.timeoutLeftMs = Math.max(0, this.timerDeadline - now);
    }
    return pauseGuest(this.emulator!);
  }

  /** For RunGate (GateHost): lets a paused guest run on (nothing once the run has ended). */
  resumeRun(): void {
    if (this.ended || this.pausedAt < 0) return;
    this.pausedMs += this.options.platform.now() - this.pausedAt;
    this.pausedAt = -1;
    this.armTimeout(this.timeoutLeftMs);
    resumeGuest(this.emulator!);
  }

  /** For RunGate (GateHost): MachineControl.stop(). */
  stopRun(): void {
    this.end("stopped", "stopped before the guest's EXIT (a stop was asked for)", null);
  }

  /** "EIP 0x... (symbol+0x..)" of the instruction being executed. */
  private where(): string {
    if (this.cpu === null) return "EIP unknown";
    const eip = this.cpu.eip;
    const sym = this.elf !== null ? symbolize(this.elf, eip) : undefined;
    return `EIP 0x${eip.toString(16)}${sym !== undefined ? ` (${sym})` : ""}`;
  }

  private guestLine(line: string): void {
    const callback = this.options.onGuestLine;
    if (callback !== undefined) this.guarded(() => callback(line));
  }

  private log(line: string): void {
    this.bootLog.push(line);
    const callback = this.options.onBootLogLine;
    if (callback !== undefined) this.guarded(() => callback(line));
  }

  /** Runs a callback invoked from inside v86's loop; an exception ends the run as a host error. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.end("host-error", `host callback failed: ${toError(error).message}`, toError(error));
    }
  }

  private configError(message: string): void {
    if (this.ended) return;
    this.ended = true;
    void this.teardown().then(() => this.reject(new MachineConfigError(message)));
  }

  /** Ends the run once: stops timers and listeners, destroys the emulator, then resolves. */
  private end(reason: MachineEndReason, message: string, error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.endMs = this.options.platform.now();
    const bridge = this.bridge;
    const fullMessage = error !== null && !message.includes(error.message) ? `${message}: ${error.message}` : message;
    if (reason !== "exit") this.log(`run ended (${reason}): ${fullMessage}`);
    void this.teardown().then(() => {
      const calls = bridge === null ? 0 : bridge.seq;
      const guestEnd = bridge !== null && bridge.exitMs >= 0 ? bridge.exitMs : this.endMs;
      const paused = this.pausedMs + (this.pausedAt >= 0 ? Math.max(0, guestEnd - this.pausedAt) : 0);
      const guestMs = bridge !== null && bridge.firstCallMs >= 0 ? guestEnd - bridge.firstCallMs - paused : 0;
      this.resolve({
        exitCode: bridge?.exitCode ?? null,
        reason,
        message: fullMessage,
        error,
        guestLog: this.guestLogPrefix + this.serial.text(),
        bootLog: this.bootLog,
        counters: (bridge?.counters ?? new BridgeCounters()).snapshot(),
        allocator: bridge?.allocator ?? null,
        memoryMap: bridge?.memoryMap ?? null,
        marks: bridge?.marks ?? [],
        memoryBytes: this.memoryBytes,
        wallMs: this.endMs - this.startMs,
        guestMs,
        bridgeNsPerCall: calls > 0 && guestMs > 0 ? (guestMs * 1e6) / calls : null,
        memoryGrowths: this.cpu?.memoryGrowths ?? 0,
      });
    });
  }

  private async teardown(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const emulator = this.emulator;
    if (emulator !== null) {
      // destroy() waits for v86's loop to acknowledge the stop; never let that hang the run.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), DESTROY_TIMEOUT_MS)));
      try {
        const outcome = await Promise.race([emulator.destroy().then(() => "done" as const), late]);
        if (outcome === "late") this.bootLog.push(`warning: v86 did not stop within ${DESTROY_TIMEOUT_MS} ms of destroy()`);
      } catch (error) {
        this.bootLog.push(`warning: destroying the emulator failed: ${toError(error).message}`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.serial.flush();
    for (const cleanup of this.cleanups.splice(0).reverse()) cleanup();
  }
}

/** v86's wasm_fn for a precompiled module: instantiate it with the imports v86 passes. */
function instantiateWith(module: WebAssembly.Module): (imports: WebAssembly.Imports) => Promise<WebAssembly.Exports> {
  return async (imports) => (await WebAssembly.instantiate(module, imports)).exports;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** v86 wants an ArrayBuffer holding exactly the file (a Uint8Array may view a larger pool). */
function copyToArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}
