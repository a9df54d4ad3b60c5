// A full walk of the allocator's metadata that throws Error("invariant: ...") naming the first thing
// broken. Linear in frames plus free blocks: for tests, fuzzing and the end of a run, not hot paths.

import { LIST_STRIDE, PCP_ORDER_COUNT, ZONE_COUNT, ZONE_NAMES } from "./constants.js";
import type { BuddyCore } from "./core.js";
import { FRAME_ALLOC, FRAME_CONTIG_HEAD, FRAME_CONTIG_TAIL, FRAME_FREE, FRAME_NONE, FRAME_PCP, FRAME_TAIL } from "./constants.js";
import { hex } from "./errors.js";

function fail(core: BuddyCore, idx: number, what: string): never {
  throw new Error(`invariant: pfn ${hex(idx + core.basePfn)}: ${what}`);
}

/** Checks every free list, every per-CPU list, every block's frames and every counter. */
export function checkInvariants(core: BuddyCore): void {
  const { link, orderCount, frameCount } = core;
  for (let z = 0; z < ZONE_COUNT; z++) {
    const lo = core.zoneLo[z]!;
    const hi = core.zoneHi[z]!;
    let frames = 0;
    for (let o = 0; o < orderCount; o++) {
      const li = z * LIST_STRIDE + o;
      let count = 0;
      let before = -1;
      for (let idx = core.freeHead[li]!; idx >= 0; idx = link[2 * idx]!) {
        if (++count > frameCount) throw new Error(`invariant: ${ZONE_NAMES[z]} order-${o} free list loops`);
        if (idx < lo || idx + 2 ** o > hi) fail(core, idx, `free block of order ${o} leaves zone ${ZONE_NAMES[z]}`);
        if (core.stateAt(idx) !== FRAME_FREE) fail(core, idx, `on the order-${o} free list with state ${core.stateAt(idx)}`);
        if (core.orderAt(idx) !== o) fail(core, idx, `on the order-${o} free list with order ${core.orderAt(idx)}`);
        if (idx % 2 ** o !== 0) fail(core, idx, `order-${o} free block is misaligned`);
        // A list's first block has no prev (BuddyCore.pushFree): every other block's names the one before.
        if (before >= 0 && link[2 * idx + 1] !== before) fail(core, idx, `broken prev link on the order-${o} free list`);
        if (o < core.maxOrder) {
          const buddy = idx ^ (2 ** o);
          if (buddy >= lo && buddy < hi && core.stateAt(buddy) === FRAME_FREE && core.orderAt(buddy) === o)
            fail(core, idx, `free order-${o} block and its free buddy ${hex(buddy + core.basePfn)} were not merged`);
        }
        before = idx;
      }
      if (core.nrFree[li] !== count) throw new Error(`invariant: ${ZONE_NAMES[z]} order ${o}: nrFree ${core.nrFree[li]} but ${count} on the list`);
      if (((core.orderMask[z]! >>> o) & 1) !== (count > 0 ? 1 : 0))
        throw new Error(`invariant: ${ZONE_NAMES[z]} order ${o}: non-empty bitmap disagrees with the list`);
      frames += count * 2 ** o;
    }
    // The zone's free count is these lists' sum by construction (zoneFreeFrames); it cannot exceed the zone.
    if (frames > core.zoneManaged[z]!) throw new Error(`invariant: ${ZONE_NAMES[z]}: ${frames} free frames on the lists, ${core.zoneManaged[z]} managed`);
    checkPcpLists(core, z);
  }
  checkFrames(core);
}

function checkPcpLists(core: BuddyCore, z: number): void {
  const link = core.link;
  let frames = 0;
  for (let o = 0; o < PCP_ORDER_COUNT; o++) {
    const pl = z * PCP_ORDER_COUNT + o;
    if (o > core.pcpMaxOrder && core.pcpHead[pl]! >= 0) throw new Error(`invariant: per-CPU list of order ${o} used while off`);
    let before = -1;
    let count = 0;
    for (let idx = core.pcpHead[pl]!; idx >= 0; idx = link[2 * idx]!) {
      if (++count > core.frameCount) throw new Error(`invariant: ${ZONE_NAMES[z]} per-CPU order-${o} list loops`);
      if (idx < core.zoneLo[z]! || idx + 2 ** o > core.zoneHi[z]!) fail(core, idx, `per-CPU block leaves zone ${ZONE_NAMES[z]}`);
      if (core.stateAt(idx) !== FRAME_PCP || core.orderAt(idx) !== o)
        fail(core, idx, `on the per-CPU order-${o} list with state ${core.stateAt(idx)} order ${core.orderAt(idx)}`);
      if (link[2 * idx + 1] !== before) fail(core, idx, `broken prev link on the per-CPU order-${o} list`);
      before = idx;
      frames += 2 ** o;
    }
    if (core.pcpTail[pl] !== before) throw new Error(`invariant: ${ZONE_NAMES[z]} per-CPU order-${o} tail is wrong`);
  }
  if (core.pcpCount[z] !== frames) throw new Error(`invariant: ${ZONE_NAMES[z]}: pcpCount ${core.pcpCount[z]} but ${frames} on the lists`);
}

/** Walks the frames block by block: every managed frame belongs to exactly one block inside one zone. */
function checkFrames(core: BuddyCore): void {
  const { link, frameCount } = core;
  const managed = new Int32Array(ZONE_COUNT);
  let idx = 0;
  while (idx < frameCount) {
    const s = core.stateAt(idx);
    if (s === FRAME_NONE) {
      idx++;
      continue;
    }
    let size: number;
    let tail: number;
    if (s === FRAME_FREE || s === FRAME_PCP || s === FRAME_ALLOC) {
      size = 2 ** core.orderAt(idx);
      tail = FRAME_TAIL;
      if (core.orderAt(idx) > core.maxOrder || idx % size !== 0) fail(core, idx, `block of order ${core.orderAt(idx)} is misaligned or too large`);
    } else if (s === FRAME_CONTIG_HEAD) {
      size = link[2 * idx + 1]!;
      tail = FRAME_CONTIG_TAIL;
      if (size < 1) fail(core, idx, `contig range of ${size} frames`);
    } else {
      fail(core, idx, `frame with state ${s} is not inside any block`);
    }
    const zone = core.zoneOf(idx);
    if (idx + size > core.zoneHi[zone]!) fail(core, idx, `block of ${size} frames crosses the end of zone ${ZONE_NAMES[zone]}`);
    for (let i = idx + 1; i < idx + size; i++) {
      if (core.stateAt(i) !== tail) fail(core, i, `frame inside the block at ${hex(idx + core.basePfn)} has state ${core.stateAt(i)}`);
      if (tail === FRAME_CONTIG_TAIL && link[2 * i] !== idx) fail(core, i, `contig frame does not point at its head`);
    }
    managed[zone]! += size;
    idx += size;
  }
  for (let z = 0; z < ZONE_COUNT; z++)
    if (managed[z] !== core.zoneManaged[z]) throw new Error(`invariant: ${ZONE_NAMES[z]}: ${managed[z]} frames in blocks, ${core.zoneManaged[z]} managed`);
}
