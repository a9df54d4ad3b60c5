// Machine checkpoints: the whole state of a run between two hypercalls, so that a run saved after
// call N and restored later (in another process) continues exactly as the uninterrupted run did.
// A checkpoint holds v86's state (CPU, devices, the RAM pages the guest touched), the bridge's
// state (counters, marks, the memory map and the allocator's arrays), and the logs so far. The
// machine runner takes one while the guest is paused right after call N (MachineControl, at an
// instruction boundary: the `in` has completed and its results are in EAX/EBX) and restores one
// into a freshly loaded emulator before the guest's first instruction. Files: src/cli/snapshot.ts.
// No Node API here: the machine runs in browsers too.

import type { V86 } from "v86";
import type { BuddyAllocator } from "../mem/index.js";
import { restoreEmulatorState, saveEmulatorState, type GuestCpu } from "../host/v86-cpu.js";
import type { BridgeSavedState, GuestRegisters, HypercallBridge } from "../machine/bridge.js";
import type { Elf32Image } from "../machine/elf.js";

export const CHECKPOINT_VERSION = 1;

/** A run's state after a completed call. */
export interface MachineCheckpoint {
  version: number;
  /** Guest RAM size; a checkpoint restores only into a machine of the same size. */
  memoryBytes: number;
  /** Calls completed when it was taken (the bridge's seq). */
  calls: number;
  /** v86's save_state() buffer (uncompressed). */
  v86State: Uint8Array;
  bridge: BridgeSavedState;
  /** COM1 output and host boot-log lines up to the checkpoint. */
  guestLog: string;
  bootLog: string[];
}

/** What tools attached with MachineOptions.onAllocator get to see and do. */
export interface RunContext {
  readonly bridge: HypercallBridge;
  /** The guest CPU (EIP, registers, control registers); null when there is no emulator (tests). */
  readonly guest: GuestRegisters | null;
  /** The kernel's ELF, for symbols; null when unknown. */
  readonly elf: Elf32Image | null;
  /** Ends the run now with reason "fault" (a guest bug a checker found); the call in progress is answered. */
  stop(message: string): void;
}

/** Callback of MachineOptions.onAllocator. */
export type AllocatorHook = (allocator: BuddyAllocator, run: RunContext) => void;

/**
 * Takes a checkpoint of a paused run (v86 stopped right after a call). Throws when the bridge is not
 * between calls of a running guest.
 */
export function captureCheckpoint(emulator: V86, bridge: HypercallBridge, memoryBytes: number, guestLog: string, bootLog: readonly string[]): MachineCheckpoint {
  return {
    version: CHECKPOINT_VERSION,
    memoryBytes,
    calls: bridge.seq,
    v86State: new Uint8Array(saveEmulatorState(emulator)),
    bridge: bridge.exportState(),
    guestLog,
    bootLog: [...bootLog],
  };
}

/**
 * Puts a checkpoint into a freshly loaded emulator and a bridge that has served no call: v86 first
 * (with the fix for v86's PCI restore bug), then the views of guest RAM, then the bridge (which
 * rebuilds the allocator and calls its onAllocator). Throws, before the guest ran, when the
 * checkpoint does not fit this machine.
 */
export function applyCheckpoint(emulator: V86, cpu: GuestCpu, bridge: HypercallBridge, checkpoint: MachineCheckpoint): void {
  if (checkpoint.version !== CHECKPOINT_VERSION) throw new Error(`checkpoint version ${checkpoint.version}, this buddy86 reads ${CHECKPOINT_VERSION}`);
  if (checkpoint.memoryBytes !== cpu.memorySize) throw new Error(`checkpoint of a ${checkpoint.memoryBytes}-byte guest, this machine has ${cpu.memorySize} bytes`);
  const buffer = checkpoint.v86State.buffer.slice(checkpoint.v86State.byteOffset, checkpoint.v86State.byteOffset + checkpoint.v86State.byteLength);
  restoreEmulatorState(emulator, buffer as ArrayBuffer);
  cpu.refreshViews();
  bridge.importState(checkpoint.bridge);
}
