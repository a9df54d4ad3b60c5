// The shape of v86's internals that v86-cpu.ts relies on (`emulator.v86`, `emulator.v86.cpu`, its IO
// and PCI objects), declared here because v86.d.ts declares none of it. Types only: v86-cpu.ts stays the
// one module that touches these objects; a v86 upgrade that renames something breaks these two files.

/** The part of one `cpu.io.ports[]` entry we inspect. */
export interface V86PortEntry {
  read8: unknown;
  read16: unknown;
  read32: unknown;
  write8: unknown;
  write16: unknown;
  write32: unknown;
}

/** The part of v86's IO object (src/io.js) we use. */
export interface V86Io {
  ports: V86PortEntry[];
  empty_port_read8: unknown;
  empty_port_read16: unknown;
  empty_port_read32: unknown;
  empty_port_write: unknown;
  register_read(port: number, device: object, r8: () => number, r16: () => number, r32: () => number): void;
  /** What v86's wasm core calls for every 32-bit `in` (through `cpu.io`, looked up at each call). */
  port_read32(port: number): number;
  register_write(
    port: number,
    device: object,
    w8: (value: number) => void,
    w16: (value: number) => void,
    w32: (value: number) => void,
  ): void;
}

/** The part of v86's CPU object (src/cpu.js) we use. Typed arrays here are v86's Proxies. */
export interface V86CpuInternals {
  wasm_memory: WebAssembly.Memory;
  memory_size: ArrayLike<number>;
  mem8: { byteOffset: number };
  reg32: { byteOffset: number };
  cr: { byteOffset: number };
  previous_ip: { byteOffset: number };
  instruction_pointer: { byteOffset: number };
  instruction_counter: { byteOffset: number };
  protected_mode: ArrayLike<number>;
  /** v86's "halted" flag (1 byte); its CPU loop ends as soon as it is set. */
  in_hlt: { byteOffset: number };
  get_eflags(): number;
  io: V86Io;
  devices: { pci?: V86Pci };
  /**
   * Called by the JIT (through its import, looked up on the CPU at each call) with a new module's
   * bytes in wasm memory; v86 instantiates them, puts export `f` at wasm_table[index + 1024] and calls
   * codegen_finalize_finished (src/cpu.js).
   */
  codegen_finalize(index: number, startAddr: number, stateFlags: number, ptr: number, len: number): void;
  codegen_finalize_finished(index: number, startAddr: number, stateFlags: number): void;
  jit_imports: WebAssembly.ModuleImports;
  wm: { wasm_table: WebAssembly.Table };
}

/** The part of v86's emulator core (src/main.js) we use. */
export interface V86Internals {
  cpu: V86CpuInternals;
  /** True from run() until the main loop has stopped. */
  running: boolean;
  do_tick(): void;
  next_tick(delayMs: number): void;
  stop(): void;
  /** Synchronous forms of V86.save_state / restore_state (src/main.js). */
  save_state(): ArrayBuffer;
  restore_state(state: ArrayBuffer): void;
}

/** v86's PCI bus (src/pci.js), for the restore fix in restoreEmulatorState. */
export interface V86Pci {
  devices: ({ pci_bars: unknown[] } | undefined)[];
  set_state(state: unknown[]): void;
}

export interface V86WithInternals {
  v86: V86Internals;
  add_listener(event: string, listener: (value: unknown) => void): void;
  remove_listener(event: string, listener: (value: unknown) => void): void;
}
