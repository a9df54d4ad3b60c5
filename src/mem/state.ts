// Snapshots of allocator state: since all state is typed arrays plus a few scalars, a snapshot is a
// copy of those arrays with the geometry they belong to, and restoring is a checked copy back: the
// same geometry and the same managed frames (one memory map), or nothing changes.

import { FRAME_NONE, LIST_STRIDE, STATE_SHIFT, ZONE_COUNT } from "./constants.js";
import type { BuddyCore } from "./core.js";

export const BUDDY_STATE_VERSION = 2;

/** Everything needed to put an allocator of the same geometry back into this exact state. */
export interface BuddyState {
  version: number;
  maxOrder: number;
  basePfn: number;
  frameCount: number;
  pcpHigh: number;
  pcpBatch: number;
  pcpMaxOrder: number;
  arrays: Record<StateArrayName, Int32Array | Uint8Array>;
}

const ARRAY_NAMES = [
  "link",
  "meta",
  "freeHead",
  "nrFree",
  "orderMask",
  "pcpHead",
  "pcpTail",
  "pcpCount",
  "pcpDrainIndex",
] as const;
type StateArrayName = (typeof ARRAY_NAMES)[number];

const GEOMETRY = ["maxOrder", "basePfn", "frameCount", "pcpHigh", "pcpBatch", "pcpMaxOrder"] as const;

/**
 * freeHead and nrFree hold LIST_STRIDE lists per zone, of which orderCount are used. A snapshot keeps
 * the used ones, zone after zone (zone * orderCount + order), as it did when that was their layout,
 * so snapshots read and write as before.
 */
const PER_ORDER: ReadonlySet<StateArrayName> = new Set(["freeHead", "nrFree"]);

function packLists(core: BuddyCore, lists: Int32Array | Uint8Array): Int32Array {
  const n = core.orderCount;
  const out = new Int32Array(ZONE_COUNT * n);
  for (let z = 0; z < ZONE_COUNT; z++) out.set(lists.subarray(z * LIST_STRIDE, z * LIST_STRIDE + n), z * n);
  return out;
}

function unpackLists(core: BuddyCore, from: Int32Array | Uint8Array, to: Int32Array | Uint8Array): void {
  const n = core.orderCount;
  for (let z = 0; z < ZONE_COUNT; z++) to.set(from.subarray(z * n, z * n + n), z * LIST_STRIDE);
}

export function snapshotState(core: BuddyCore): BuddyState {
  const arrays = {} as Record<StateArrayName, Int32Array | Uint8Array>;
  for (const name of ARRAY_NAMES) arrays[name] = PER_ORDER.has(name) ? packLists(core, core[name]) : core[name].slice();
  return {
    version: BUDDY_STATE_VERSION,
    maxOrder: core.maxOrder,
    basePfn: core.basePfn,
    frameCount: core.frameCount,
    pcpHigh: core.pcpHigh,
    pcpBatch: core.pcpBatch,
    pcpMaxOrder: core.pcpMaxOrder,
    arrays,
  };
}

/** Copies a snapshot back; throws, changing nothing, when it belongs to another geometry. */
export function restoreState(core: BuddyCore, saved: BuddyState): void {
  if (saved.version !== BUDDY_STATE_VERSION) throw new Error(`setState: state version ${saved.version}, expected ${BUDDY_STATE_VERSION}`);
  for (const key of GEOMETRY)
    if (saved[key] !== core[key]) throw new Error(`setState: ${key} is ${saved[key]} in the snapshot but ${core[key]} here`);
  for (const name of ARRAY_NAMES) {
    const from = saved.arrays[name];
    const to = core[name];
    const length = PER_ORDER.has(name) ? ZONE_COUNT * core.orderCount : to.length;
    if (from === undefined || from.length !== length || from.constructor !== to.constructor)
      throw new Error(`setState: array ${name} does not match this allocator`);
  }
  // The same span can hold another memory map: the managed frames must be the same ones, or frames
  // this allocator reserved would come back as free blocks.
  const savedMeta = saved.arrays.meta;
  for (let idx = 0; idx < core.frameCount; idx++) {
    const managedHere = core.stateAt(idx) !== FRAME_NONE;
    if (managedHere === (savedMeta[idx]! >>> STATE_SHIFT !== FRAME_NONE)) continue;
    const where = managedHere ? "managed here but not" : "not managed here but managed";
    throw new Error(`setState: pfn 0x${(idx + core.basePfn).toString(16)} is ${where} in the snapshot (another memory map)`);
  }
  for (const name of ARRAY_NAMES) {
    if (PER_ORDER.has(name)) unpackLists(core, saved.arrays[name], core[name]);
    else core[name].set(saved.arrays[name]);
  }
}
