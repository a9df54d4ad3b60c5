// The machine layer: the hypercall bridge, the v86 runner and their readers. Re-exports only.
// Node callers add `nodePlatform()` from ../host/node-platform.js; pages use browser-entry.ts.
export {
  runMachine,
  validateMemoryBytes,
  MachineConfigError,
  DEFAULT_MEMORY_BYTES,
  DEFAULT_TIMEOUT_MS,
  MEMORY_GRANULE,
  MEMORY_MAX_BYTES,
  MEMORY_MIN_BYTES,
  type MachineOptions,
  type MachineResult,
  type MachineEndReason,
  type MachineControl,
} from "./machine.js";
export {
  HypercallBridge,
  HostError,
  type BridgeOptions,
  type BridgeObserver,
  type BridgeState,
  type GuestMark,
} from "./bridge.js";
export { BridgeCounters, type CountersSnapshot } from "./counters.js";
export { readElf32, isElf, kernelElfOrNull, symbolize, ElfError, PT_LOAD, type Elf32Image, type ElfSegment, type ElfSymbol } from "./elf.js";
export { checkKernelImage, findMultibootHeader, KernelImageError, type KernelCheck, type MultibootHeader } from "./kernel-image.js";
export { readMultibootInfo, buildMemoryMap, inGuestRam, type E820Entry, type MultibootInfo, type GuestReservation } from "./memmap.js";
export { formatMemoryMapLog, hex64, memRange } from "./boot-log.js";
export { SerialLog } from "./serial-log.js";
export type { Platform } from "../host/platform.js";
