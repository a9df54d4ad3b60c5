// A fake guest for driving the hypercall bridge without v86: RAM is a plain Uint8Array, registers
// an Int32Array, and the multiboot info is laid out the way v86 writes it (info at 0x7C00, the
// cmdline right after it, then the memory map of 24-byte entries).

import { expect } from "vitest";
import { HypercallBridge, type BridgeOptions } from "../src/machine/index.js";
import { Cmd, Status } from "../src/protocol/abi.js";

export const INFO_ADDR = 0x7c00;
export const INFO_SIZE = 116;
export const IMAGE_START = 0x100000;
export const IMAGE_END = 0x110000;
export const MiB = 1024 * 1024;

export interface MapEntry {
  base: number;
  length: number;
  type: number;
  /** The entry's size field (default 20). */
  size?: number;
}

export interface FakeGuestOptions extends Partial<Omit<BridgeOptions, "ram" | "reg32">> {
  ramBytes?: number;
  /** null: flags bit 2 clear. Default "console=ttyS0". */
  cmdline?: string | null;
  /** Default: v86's two type-1 entries, [0, 0xA0000) and [0xC0000, ramBytes). */
  entries?: MapEntry[];
  /** Fill RAM with this byte first (to see what GFP_ZERO clears). */
  fill?: number;
  /** RAM and reg32 inside this memory (as v86 keeps them), at these byte offsets; default: arrays of their own. */
  inMemory?: { memory: WebAssembly.Memory; ramOffset: number; reg32Offset: number };
}

export interface FakeGuest {
  ram: Uint8Array;
  dv: DataView;
  reg32: Int32Array;
  bridge: HypercallBridge;
  mmapAddr: number;
  mmapLength: number;
  cmdlineAddr: number;
  /** MEMMAP(INFO_ADDR, IMAGE_START, IMAGE_END) */
  memmap(): { result: number; status: number };
}

export function v86Entries(ramBytes: number): MapEntry[] {
  return [
    { base: 0, length: 0xa0000, type: 1 },
    { base: 0xc0000, length: ramBytes - 0xc0000, type: 1 },
  ];
}

/** Writes the multiboot info, cmdline and map at INFO_ADDR the way v86 does; returns their places. */
export function writeMultibootInfo(
  ram: Uint8Array,
  entries: MapEntry[],
  cmdline: string | null,
): { mmapAddr: number; mmapLength: number; cmdlineAddr: number } {
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  let p = INFO_ADDR + INFO_SIZE;
  let flags = 1 << 6;
  const cmdlineAddr = p;
  if (cmdline !== null) {
    flags |= 1 << 2;
    const bytes = new TextEncoder().encode(cmdline + "\0");
    ram.set(bytes, p);
    dv.setUint32(INFO_ADDR + 16, p, true);
    p += bytes.length;
  }
  const mmapAddr = p;
  for (const e of entries) {
    const size = e.size ?? 20;
    dv.setUint32(p, size, true);
    dv.setUint32(p + 4, e.base % 2 ** 32, true);
    dv.setUint32(p + 8, Math.floor(e.base / 2 ** 32), true);
    dv.setUint32(p + 12, e.length % 2 ** 32, true);
    dv.setUint32(p + 16, Math.floor(e.length / 2 ** 32), true);
    dv.setUint32(p + 20, e.type, true);
    p += 4 + size;
  }
  const mmapLength = p - mmapAddr;
  dv.setUint32(INFO_ADDR, flags, true);
  dv.setUint32(INFO_ADDR + 44, mmapLength, true);
  dv.setUint32(INFO_ADDR + 48, mmapAddr, true);
  return { mmapAddr, mmapLength, cmdlineAddr };
}

export function fakeGuest(options: FakeGuestOptions = {}): FakeGuest {
  const { ramBytes = 32 * MiB, cmdline = "console=ttyS0", entries, fill, inMemory, ...bridgeOptions } = options;
  const ram = inMemory === undefined ? new Uint8Array(ramBytes) : new Uint8Array(inMemory.memory.buffer, inMemory.ramOffset, ramBytes);
  if (fill !== undefined) ram.fill(fill);
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const reg32 = inMemory === undefined ? new Int32Array(8) : new Int32Array(inMemory.memory.buffer, inMemory.reg32Offset, 8);
  const places = writeMultibootInfo(ram, entries ?? v86Entries(ramBytes), cmdline);
  const bridge = new HypercallBridge({ ram, reg32, ...bridgeOptions });
  return { ram, dv, reg32, bridge, ...places, memmap: () => bridge.call(Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END) };
}

/** A fake guest that has completed MEMMAP. */
export function bootedGuest(options: FakeGuestOptions = {}): FakeGuest {
  const g = fakeGuest(options);
  const r = g.memmap();
  expect(r.status, "MEMMAP").toBe(Status.OK);
  return g;
}

/** Everything a rejected call must leave alone: the allocator's arrays and counts. */
export function allocatorState(bridge: HypercallBridge): unknown {
  const a = bridge.allocator;
  if (a === null) return { reservations: bridge.reservations.map((r) => ({ ...r })), state: bridge.state };
  const { arrays, ...scalars } = a.getState();
  // Typed arrays as base64 strings: exact, and far quicker to compare than element by element.
  const bytes = Object.entries(arrays).map(([name, v]) => `${name}:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")}`);
  return { free: a.freePageCount, buddyinfo: a.buddyinfo(), scalars, bytes, reservations: bridge.reservations.length };
}

/**
 * Makes the call and expects `status`, EAX 0 (unless HELLO), and, for any status but OK and
 * ENOMEM, an allocator exactly as before.
 */
export function expectStatus(g: FakeGuest, status: number, cmd: number, arg0 = 0, arg1 = 0, arg2 = 0): number {
  const before = status === Status.OK || status === Status.ENOMEM ? null : allocatorState(g.bridge);
  const r = g.bridge.call(cmd, arg0, arg1, arg2);
  const name = `${statusName(status)} for cmd 0x${cmd.toString(16)}(0x${(arg0 >>> 0).toString(16)}, 0x${(arg1 >>> 0).toString(16)}, 0x${(arg2 >>> 0).toString(16)})`;
  expect(statusName(r.status), name).toBe(statusName(status));
  if (status !== Status.OK && cmd !== Cmd.HELLO) expect(r.result, `EAX after ${name}`).toBe(0);
  if (before !== null) expect(allocatorState(g.bridge), `allocator unchanged after ${name}`).toEqual(before);
  return r.result;
}

export function statusName(code: number): string {
  return Object.entries(Status).find(([, v]) => v === code)?.[0] ?? `status ${code}`;
}
