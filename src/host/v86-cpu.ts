// The one module that touches v86 internals (`emulator.v86`, `emulator.v86.cpu`): port handlers,
// fast views of guest RAM and registers, the instruction pointer, control registers, the halt event
// and the guard around v86's main loop. v86.d.ts declares none of this; the minimal shape we rely
// on is declared in v86-internals.ts; a v86 upgrade that renames something breaks those two files.
//
// v86's own `cpu.mem8`, `cpu.reg32`, ... are Proxies that build a new typed array on every element
// access, and the wasm memory behind them grows mid-run (its old ArrayBuffer is then detached: reads
// give undefined, writes vanish). We keep our own views over `cpu.wasm_memory.buffer` and rebuild them
// whenever the buffer changed; every port entry checks that first (cheaply: see registerPort).

import type { V86 } from "v86";
import type { WasmModuleCache } from "./wasm-cache.js";
import type { V86CpuInternals, V86Internals, V86Io, V86Pci, V86WithInternals } from "./v86-internals.js";

/**
 * Where the guest's RAM and CPU state lie in v86's WebAssembly memory, as byte offsets that hold for
 * the whole run (the memory object is the same while it grows): for observers that read them from
 * WebAssembly (observe/call-sampler-wasm.ts).
 */
export interface GuestStateInWasm {
  readonly memory: WebAssembly.Memory;
  /** Guest physical address 0. */
  readonly ramOffset: number;
  /** Bytes of guest RAM. */
  readonly ramBytes: number;
  /** reg32: EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI as i32s. */
  readonly reg32Offset: number;
  /** The EIP of the instruction being executed (the `in`, inside a port handler). */
  readonly previousIpOffset: number;
  /** The u32 instruction counter. */
  readonly instructionCounterOffset: number;
  /** cr: CR0, CR1, ... as i32s. */
  readonly crOffset: number;
}

/** Register indices of `reg32`, as v86 (and the x86 encoding) numbers them. */
export const REG_EAX = 0;
export const REG_ECX = 1;
export const REG_EDX = 2;
export const REG_EBX = 3;
export const REG_ESP = 4;
export const REG_EBP = 5;
export const REG_ESI = 6;
export const REG_EDI = 7;

/** EFLAGS.IF: interrupts enabled. */
const EFLAGS_IF = 1 << 9;

/** Handlers for every width of one I/O port. Reads return the value the guest sees in AL/AX/EAX. */
export interface PortHandlers {
  read8(): number;
  read16(): number;
  read32(): number;
  write8(value: number): void;
  write16(value: number): void;
  write32(value: number): void;
}

/** Called with fresh views after v86 replaced its wasm memory buffer (and once at attach time). */
export type ViewsListener = (ram: Uint8Array, reg32: Int32Array) => void;

/** GuestCpu's views of v86's CPU state, rebuilt together when v86 replaces its wasm buffer. */
class StateViews {
  cr = new Int32Array(0);
  previousIp = new Int32Array(0);
  instructionPointer = new Int32Array(0);
  instructionCounter = new Uint32Array(0);
}

/**
 * Our window into one running v86 CPU. Build it after "emulator-loaded". The views `ram` (guest
 * physical memory, `memorySize` bytes) and `reg32` (EAX..EDI) are valid until the wasm memory grows;
 * the port handlers registered here refresh them (and tell the onViews listeners) before running,
 * other callers use refreshViews(). The register getters (eip, cr3, ...) refresh their own views.
 */
export class GuestCpu {
  readonly memorySize: number;
  /** Guest physical RAM, [0, memorySize). */
  ram!: Uint8Array;
  /** EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (indices REG_*). */
  reg32!: Int32Array;
  /**
   * The registers for observers, read inside a port handler (machine/bridge-types.ts
   * GuestRegisters): PortRegisters below, which reads the views without the getters' check.
   */
  readonly portRegisters: PortRegisters;
  /** Where guest RAM and the CPU state lie in v86's WebAssembly memory (the same memory for the whole run). */
  readonly stateInWasm: GuestStateInWasm;
  /** The CPU-state views, shared with portRegisters (which reads them directly). */
  private readonly state = new StateViews();
  private readonly cpu: V86CpuInternals;
  private readonly listeners: ViewsListener[] = [];
  private growCount = 0;

  constructor(emulator: V86) {
    const internals = (emulator as unknown as Partial<V86WithInternals>).v86;
    if (internals === undefined || internals.cpu === undefined || internals.cpu.wasm_memory === undefined) {
      throw new Error("GuestCpu: emulator.v86.cpu is missing (v86 not loaded yet, or an incompatible v86 version)");
    }
    this.cpu = internals.cpu;
    this.memorySize = this.cpu.memory_size[0]! >>> 0;
    this.buildMemoryViews();
    const c = this.cpu;
    this.stateInWasm = {
      memory: c.wasm_memory,
      ramOffset: c.mem8.byteOffset,
      ramBytes: this.memorySize,
      reg32Offset: c.reg32.byteOffset,
      previousIpOffset: c.previous_ip.byteOffset,
      instructionCounterOffset: c.instruction_counter.byteOffset,
      crOffset: c.cr.byteOffset,
    };
    this.portRegisters = new PortRegisters(this, this.state);
  }

  /**
   * Rebuilds every view when v86 replaced its wasm buffer, then tells the listeners. Cheap when
   * nothing changed. Throws what a listener throws (after every view is rebuilt).
   */
  refreshViews(): void {
    if (this.ram.buffer !== this.cpu.wasm_memory.buffer) {
      this.buildMemoryViews();
      this.growCount++;
      for (const listener of this.listeners) listener(this.ram, this.reg32);
    }
  }

  /** How many times the views were rebuilt after a wasm memory growth. */
  get memoryGrowths(): number {
    return this.growCount;
  }

  /** Registers a listener for fresh views; it is called right away with the current ones. */
  onViews(listener: ViewsListener): void {
    this.listeners.push(listener);
    listener(this.ram, this.reg32);
  }

  /**
   * Takes the I/O port for every width of read and write. Throws if any width already has a
   * handler other than v86's empty one (another device owns the port). Every entry first refreshes
   * the views, so handlers may use `ram` and `reg32` directly. A views listener that throws while
   * refreshing is reported to `onError` (the handler still runs: it must then refuse work), never
   * thrown into v86's loop.
   */
  registerPort(port: number, handlers: PortHandlers, onError: (error: unknown) => void): void {
    const io = this.cpu.io;
    const entry = io.ports[port];
    if (entry === undefined) throw new Error(`GuestCpu.registerPort: port 0x${port.toString(16)} does not exist`);
    const free =
      entry.read8 === io.empty_port_read8 &&
      entry.read16 === io.empty_port_read16 &&
      entry.read32 === io.empty_port_read32 &&
      entry.write8 === io.empty_port_write &&
      entry.write16 === io.empty_port_write &&
      entry.write32 === io.empty_port_write;
    if (!free) throw new Error(`GuestCpu.registerPort: port 0x${port.toString(16)} already has a v86 device`);
    const views = (): void => {
      try {
        this.refreshViews();
      } catch (error) {
        onError(error);
      }
    };
    // Growing a (non-shared) wasm memory detaches its old ArrayBuffer, and a view over a detached
    // buffer has length 0: testing that is a field load, where comparing `.buffer` with
    // `wasm_memory.buffer` calls two getters (about 100 ns per port entry, measured).
    const refresh = (): void => {
      if (this.ram.length === 0) views();
    };
    const device = { name: "buddy86 hypercall port" };
    const read32 = (): number => {
      refresh();
      return handlers.read32();
    };
    io.register_read(
      port,
      device,
      () => {
        refresh();
        return handlers.read8();
      },
      () => {
        refresh();
        return handlers.read16();
      },
      read32,
    );
    // The hypercall's hot path. v86's io.port_read32 finds a port's handler in a 65536-entry table,
    // compares it with the empty one, calls it with .call and range-checks the value: about 10 ns
    // of every hypercall (measured with a tiny churn kernel). Answer our port before all that and
    // leave every other port to v86. (The table entry above stays right for anything that reads it.)
    const tableRead32 = io.port_read32;
    if (typeof tableRead32 === "function") {
      // The test of the views written in, not a call of read32 and refresh: in the page's worker
      // Chromium left each closure level out of line (about 15 ns per call, docs/web-speed.md).
      const cpu = this;
      io.port_read32 = function portRead32(this: V86Io, p: number): number {
        if (p !== port) return tableRead32.call(this, p);
        if (cpu.ram.length === 0) views();
        return handlers.read32();
      };
    }
    io.register_write(
      port,
      device,
      (value) => {
        refresh();
        handlers.write8(value);
      },
      (value) => {
        refresh();
        handlers.write16(value);
      },
      (value) => {
        refresh();
        handlers.write32(value);
      },
    );
  }

  /** Linear address of the instruction being executed (the `in` itself, inside a port handler). */
  get eip(): number {
    return this.stateViews().previousIp[0]! >>> 0;
  }

  /** Linear address of the next instruction. */
  get nextEip(): number {
    return this.stateViews().instructionPointer[0]! >>> 0;
  }

  /** Instructions retired so far; approximate inside a port handler (a few dozen apart between runs, by what v86 had JIT-compiled). */
  get instructionCount(): number {
    return this.stateViews().instructionCounter[0]! >>> 0;
  }

  get cr0(): number {
    return this.stateViews().cr[0]! >>> 0;
  }

  /** The page directory base, for host-side page-table walks. */
  get cr3(): number {
    return this.stateViews().cr[3]! >>> 0;
  }

  /** CR4 (PSE and PAE decide the page-table format of a host-side walk). */
  get cr4(): number {
    return this.stateViews().cr[4]! >>> 0;
  }

  get protectedMode(): boolean {
    return this.cpu.protected_mode[0] === 1;
  }

  get interruptsEnabled(): boolean {
    return (this.cpu.get_eflags() & EFLAGS_IF) !== 0;
  }

  /** Every view, ram and reg32 and the CPU-state ones: after it, all of them read the same buffer. */
  private buildMemoryViews(): void {
    const cpu = this.cpu;
    const buffer = cpu.wasm_memory.buffer;
    this.ram = new Uint8Array(buffer, cpu.mem8.byteOffset, this.memorySize);
    this.reg32 = new Int32Array(buffer, cpu.reg32.byteOffset, 8);
    this.buildStateViews();
  }

  /**
   * The CPU-state views, rebuilt when detached (the getters above may be read outside a port handler,
   * after a memory growth no port entry has seen yet). Separate from ram/reg32, whose listeners must
   * hear of a change.
   */
  private stateViews(): StateViews {
    if (this.state.cr.length === 0) this.buildStateViews();
    return this.state;
  }

  private buildStateViews(): void {
    const cpu = this.cpu;
    const buffer = cpu.wasm_memory.buffer;
    const state = this.state;
    state.cr = new Int32Array(buffer, cpu.cr.byteOffset, 8);
    state.previousIp = new Int32Array(buffer, cpu.previous_ip.byteOffset, 1);
    state.instructionPointer = new Int32Array(buffer, cpu.instruction_pointer.byteOffset, 1);
    state.instructionCounter = new Uint32Array(buffer, cpu.instruction_counter.byteOffset, 1);
  }
}

/**
 * GuestCpu's registers as code inside a port handler reads them (machine/bridge-types.ts
 * GuestRegisters: what an observer samples while a call is served). Every port entry has refreshed
 * all of GuestCpu's views (registerPort), so these getters read them as they are, without the check
 * for a view detached by memory growth that GuestCpu's own getters make. The hub samples EIP, CR0 and
 * the instruction counter at the first event of nearly every call of a busy guest, and V8 carried each
 * check's reload and length test in line: its sampling went from 187 to 140 host instructions per
 * call under the real emulator (callgrind, npm run bench:live's --one page).
 */
export class PortRegisters {
  constructor(
    private readonly cpu: GuestCpu,
    private readonly state: StateViews,
  ) {}

  get reg32(): Int32Array {
    return this.cpu.reg32;
  }

  get stateInWasm(): GuestStateInWasm {
    return this.cpu.stateInWasm;
  }

  get eip(): number {
    return this.state.previousIp[0]! >>> 0;
  }

  get instructionCount(): number {
    return this.state.instructionCounter[0]! >>> 0;
  }

  get cr0(): number {
    return this.state.cr[0]! >>> 0;
  }

  get cr3(): number {
    return this.state.cr[3]! >>> 0;
  }

  get cr4(): number {
    return this.state.cr[4]! >>> 0;
  }
}

/**
 * Wraps v86's main-loop tick in a try/catch, so an exception thrown inside the emulator (a CPU
 * fault v86 cannot deliver, such as an exception with no IDT, panics the wasm core) reaches
 * `onError` instead of escaping from a timer callback and killing the process. After an error the
 * guest never runs again: the loop is told to stop and ticks once more only to emit
 * "emulator-stopped", which `emulator.destroy()` waits for. Returns a function that restores the
 * original tick.
 */
export function guardMainLoop(emulator: V86, onError: (error: unknown) => void): () => void {
  const core = (emulator as unknown as V86WithInternals).v86;
  const original = core.do_tick;
  core.do_tick = function guardedTick(this: V86Internals): void {
    try {
      original.call(this);
    } catch (error) {
      core.stop();
      core.next_tick(0);
      onError(error);
    }
  };
  return () => {
    core.do_tick = original;
  };
}

/** Subscribes to "cpu-event-halt" (the guest executed `hlt`), which v86.d.ts does not declare. */
export function onCpuHalt(emulator: V86, listener: () => void): () => void {
  const e = emulator as unknown as V86WithInternals;
  const wrapped = (): void => listener();
  e.add_listener("cpu-event-halt", wrapped);
  return () => e.remove_listener("cpu-event-halt", wrapped);
}

/**
 * Makes v86's JIT take its modules from `cache` (wasm-cache.ts): it compiles only bytes it has not
 * seen, and instantiates as v86 does, asynchronously, then finishes the function as v86 does. A
 * failure is reported to onError (v86 would leave an unhandled rejection). Returns a function that
 * puts v86's own method back.
 */
export function cacheJitModules(emulator: V86, cache: WasmModuleCache, onError: (error: unknown) => void): () => void {
  const cpu = (emulator as unknown as V86WithInternals).v86.cpu;
  const own = Object.prototype.hasOwnProperty.call(cpu, "codegen_finalize") ? cpu.codegen_finalize : null;
  cpu.codegen_finalize = function cachedFinalize(this: V86CpuInternals, index, startAddr, stateFlags, ptr, len): void {
    const module = cache.module(new Uint8Array(cpu.wasm_memory.buffer, ptr >>> 0, len >>> 0));
    module
      .then((m) => WebAssembly.instantiate(m, { e: cpu.jit_imports }))
      .then((instance) => {
        cpu.wm.wasm_table.set(index + 1024, instance.exports.f);
        cpu.codegen_finalize_finished(index, startAddr, stateFlags);
      })
      .catch(onError);
  };
  return () => {
    if (own !== null) cpu.codegen_finalize = own;
    else delete (cpu as Partial<V86CpuInternals>).codegen_finalize;
  };
}

/**
 * Pauses the guest at an instruction boundary, for interactive hosts (pause / step): sets v86's
 * halted flag, which ends its CPU loop after the instruction being executed (inside a port handler:
 * right after the `in`, whose result the guest still gets), and stops v86's main loop. Resolves when
 * v86 has stopped. No "cpu-event-halt" is emitted (the guest executed no `hlt`). The guest stays
 * paused until resumeGuest(); resume only after the promise resolved.
 */
export function pauseGuest(emulator: V86): Promise<void> {
  setHalted(emulator, 1);
  const stopped = emulator.stop();
  // v86 stops at its next main-loop tick, and a halted CPU schedules that tick after the time to its
  // next timer event: about 100 ms, which made every pause (a throttled run pauses once per display
  // frame) that long. Once the tick in progress has scheduled its successor (this is a microtask of
  // the port handler's task), a tick now replaces it (v86 runs only the newest one scheduled: true of
  // its yields under Node, with scheduler.postTask and with its timer worker, the three a buddy86
  // host gets; not of its bare-setTimeout fallback for hosts with none of them), and that tick sees
  // the stop.
  const core = (emulator as unknown as V86WithInternals).v86;
  queueMicrotask(() => {
    if (core.running) core.next_tick(0);
  });
  return stopped;
}

/** Undoes pauseGuest(): clears the halted flag and restarts v86's main loop where the guest stopped. */
export function resumeGuest(emulator: V86): void {
  setHalted(emulator, 0);
  void emulator.run();
}

function setHalted(emulator: V86, value: 0 | 1): void {
  const cpu = (emulator as unknown as V86WithInternals).v86.cpu;
  // A fresh view each time: these calls are rare, and the wasm memory may have grown since the last.
  new Uint8Array(cpu.wasm_memory.buffer, cpu.in_hlt.byteOffset, 1)[0] = value;
}

/** Number of PCI bus/device/function slots in v86's saved PCI state (then 4 words of bus registers). */
const PCI_SLOTS = 256;
/** BAR dwords start at word 4 of a device's configuration space; bit 0 marks an I/O BAR. */
const PCI_BAR0_WORD = 4;

/**
 * v86's state (CPU, devices, the guest RAM pages it touched) as one buffer, taken while v86 is stopped
 * (after pauseGuest). A paused guest has v86's halted flag set; the saved state has it clear, so a
 * restored guest runs on from the instruction after the pause.
 */
export function saveEmulatorState(emulator: V86): ArrayBuffer {
  const core = (emulator as unknown as V86WithInternals).v86;
  const view = new Uint8Array(core.cpu.wasm_memory.buffer, core.cpu.in_hlt.byteOffset, 1);
  const halted = view[0]!;
  view[0] = 0;
  try {
    return core.save_state();
  } finally {
    new Uint8Array(core.cpu.wasm_memory.buffer, core.cpu.in_hlt.byteOffset, 1)[0] = halted;
  }
}

/**
 * Restores saveEmulatorState() into an emulator loaded with the same memory size, before it runs.
 * Works around v86's PCI restore bug (also upstream): PCI.set_state dereferences pci_bars[b] for every
 * saved BAR dword with the I/O bit set, and crashes ("original_bar of undefined") for a device that
 * has no such BAR, as happens with no disk attached. Those bits are cleared in the saved state first.
 * Throws what v86 throws for a state it cannot read.
 */
export function restoreEmulatorState(emulator: V86, state: ArrayBuffer): void {
  const core = (emulator as unknown as V86WithInternals).v86;
  const pci = core.cpu.devices.pci;
  if (pci === undefined) {
    core.restore_state(state);
    return;
  }
  const original = pci.set_state;
  pci.set_state = function fixedSetState(this: V86Pci, saved: unknown[]): void {
    for (let slot = 0; slot < PCI_SLOTS; slot++) {
      const device = this.devices[slot];
      const space = saved[slot] as Int32Array | undefined;
      if (device === undefined || space === undefined || space === null) continue;
      for (let b = 0; b < device.pci_bars.length; b++) {
        if (device.pci_bars[b] === undefined && (space[PCI_BAR0_WORD + b]! & 1) !== 0) space[PCI_BAR0_WORD + b]! &= ~1;
      }
    }
    original.call(this, saved);
  };
  try {
    core.restore_state(state);
  } finally {
    pci.set_state = original;
  }
}
