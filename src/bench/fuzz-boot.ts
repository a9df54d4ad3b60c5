// The port fuzzer's hostile boot (fuzz.ts): up to 70 RESERVEs (the 65th and the malformed ones must
// be refused), page commands before MEMMAP (ESTATE), up to four broken multiboot structures whose
// expected status the model computes from the document's rules, then a good MEMMAP, after which the
// allocator must manage exactly the frames the model says. Then the guest's hooks are attached.

import { PoisonChecker } from "../debug/poison.js";
import { ARRAY, ARRAY_BYTES, C, CMDLINE, IMAGE_END, IMAGE_START, INFO, MAP, MiB, type Config, type Op } from "./fuzz-arbitraries.js";
import type { Guest } from "./fuzz-guest.js";
import { EINVAL, ESTATE, EVERSION, HeldModel, OK, expectedMemmap, insideRam } from "./fuzz-model.js";

export function bootGuest(g: Guest): boolean {
  g.expect(C.RESERVE, ARRAY, ARRAY_BYTES + 0x20000, 0, OK);
  g.reservations.push([ARRAY, ARRAY_BYTES + 0x20000]);
  for (const r of g.cfg.reserves) {
    const status = r.length === 0 || r.base + r.length > 2 ** 32 || g.reservations.length >= 64 ? EINVAL : OK;
    g.expect(C.RESERVE, r.base, r.length, 0, status);
    if (status === OK) g.reservations.push([r.base, r.length]);
  }
  for (const o of g.cfg.early) early(g, o);
  for (const b of g.cfg.broken) {
    const args = writeBroken(g, b);
    const want = expectedMemmap(g.ram, args[0], args[1], args[2], g.reservations);
    g.expect(C.MEMMAP, args[0], args[1], args[2], want.status);
    if (want.status === OK) return booted(g, want.managed!);
    if (g.bridge.allocator !== null) g.fail("a failed MEMMAP built an allocator");
  }
  writeGood(g);
  const want = expectedMemmap(g.ram, INFO, IMAGE_START, IMAGE_END, g.reservations);
  g.expect(C.MEMMAP, INFO, IMAGE_START, IMAGE_END, want.status);
  return want.status === OK ? booted(g, want.managed!) : false;
}

function booted(g: Guest, managed: Uint8Array): boolean {
  const a = g.bridge.allocator;
  if (a === null) return g.fail("MEMMAP answered OK but built no allocator");
  const model = new HeldModel(managed, g.cfg.maxOrder);
  if (a.managedPageCount !== model.managedCount()) g.fail(`MEMMAP manages ${a.managedPageCount} frames, the model ${model.managedCount()}`);
  g.model = model;
  if (g.cfg.poison && g.ramBytes <= 24 * MiB) {
    const bridge = g.bridge;
    g.poison = new PoisonChecker(a, { seq: () => bridge.seq - 1, eip: () => 0 });
    a.listener = g.poison;
    g.dirty = new Uint8Array(managed.length);
    g.armed = new Uint8Array(managed.length);
  }
  if (g.cfg.failPercent > 0) {
    const threshold = (g.cfg.failPercent / 100) * 2 ** 32;
    a.failPredicate = () => {
      if (g.rand() >= threshold) return false;
      g.injectedThisCall++;
      return true;
    };
  }
  g.fullCheck();
  return true;
}

function early(g: Guest, o: Op): void {
  if (o.k === "alloc" || o.k === "free" || o.k === "allocContig" || o.k === "freeContig" || o.k === "stat" || o.k === "batch") {
    const cmd = { alloc: C.ALLOC_PAGES, free: C.FREE_PAGES, allocContig: C.ALLOC_CONTIG, freeContig: C.FREE_CONTIG, stat: C.STAT, batch: C.BATCH }[o.k];
    g.expect(cmd, g.rand(), g.rand(), g.rand(), ESTATE);
  } else if (o.k === "hello") g.expect(C.HELLO, o.version, 0, 0, o.version === 1 ? OK : EVERSION);
}

/** Writes a (likely) broken multiboot info; returns MEMMAP's arguments. */
function writeBroken(g: Guest, b: Config["broken"][number]): [number, number, number] {
  const dv = g.dv;
  const entries = b.entries;
  let p = MAP;
  for (const e of entries) {
    if (p + 4 + Math.max(20, e.size) > CMDLINE) break;
    dv.setUint32(p, e.size, true);
    dv.setUint32(p + 4, e.base % 2 ** 32, true);
    dv.setUint32(p + 8, Math.floor(e.base / 2 ** 32), true);
    dv.setUint32(p + 12, e.length % 2 ** 32, true);
    dv.setUint32(p + 16, Math.floor(e.length / 2 ** 32), true);
    dv.setUint32(p + 20, e.type, true);
    p += 4 + Math.max(e.size, 20);
  }
  const length = Math.max(0, p - MAP + b.lengthDelta);
  const mapAddr = [MAP, g.ramBytes - 8, 0xa0000 - 8, b.raw, g.ramBytes + 0x1000, MAP][b.mapSel]! >>> 0;
  const cmd = [CMDLINE, g.ramBytes - 3, 0x9fffe, b.raw, CMDLINE + 1][b.cmdSel]! >>> 0;
  g.ram.fill(0x41, CMDLINE, CMDLINE + 4096 + 8);
  if (b.cmdSel !== 4) g.ram[CMDLINE + 10] = 0; // cmdSel 4: 4 KiB without a NUL
  const info = [INFO, INFO, g.ramBytes - 100, 0x9ffc0, b.raw, 0xfffffff0][b.infoSel]! >>> 0;
  if (insideRam(info, 116, g.ramBytes)) {
    g.touched.push(info, 116);
    dv.setUint32(info, b.flags, true);
    dv.setUint32(info + 16, cmd, true);
    dv.setUint32(info + 44, length, true);
    dv.setUint32(info + 48, mapAddr, true);
  }
  const image: [number, number] = [[IMAGE_START, IMAGE_END], [IMAGE_END, IMAGE_START], [b.raw, b.raw], [0, b.raw]][b.imageSel] as [number, number];
  return [info, image[0] >>> 0, image[1] >>> 0];
}

/** A valid multiboot info at INFO: v86's map, or a few random type-1/2 entries, and a cmdline. */
function writeGood(g: Guest): void {
  const dv = g.dv;
  g.ram.fill(0, INFO, CMDLINE + 4096 + 8);
  const big = g.ramBytes > 24 * MiB;
  const entries = big
    ? [
        { base: 0, length: 0x9f000, type: 1 },
        { base: 0x100000, length: 19 * MiB, type: 1 },
        { base: 892 * MiB, length: 12 * MiB, type: 1 },
      ]
    : g.cfg.goodEntries.length === 0
      ? [
          { base: 0, length: 0xa0000, type: 1 },
          { base: 0xc0000, length: g.ramBytes - 0xc0000, type: 1 },
        ]
      : g.cfg.goodEntries;
  let p = MAP;
  for (const e of entries) {
    dv.setUint32(p, 20, true);
    dv.setUint32(p + 4, e.base, true);
    dv.setUint32(p + 12, e.length, true);
    dv.setUint32(p + 20, e.type, true);
    p += 24;
  }
  g.ram.set(new TextEncoder().encode("fuzz seed\0"), CMDLINE);
  dv.setUint32(INFO, 0x44, true);
  dv.setUint32(INFO + 16, CMDLINE, true);
  dv.setUint32(INFO + 44, p - MAP, true);
  dv.setUint32(INFO + 48, MAP, true);
}
