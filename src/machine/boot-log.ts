// The host's boot log, worded like Linux's early boot messages so the map reads familiarly:
//   BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable
//   reserved:  [mem 0x00000000000a0000-0x00000000000fffff] VGA and ROM hole
//   Zone ranges:
//     DMA      [mem 0x0000000000001000-0x0000000000ffffff]
// Ranges print inclusive ends as Linux's "%#018Lx" does. Only MEMMAP and warnings write here, so
// the formatting cost is off the hot path.

import type { E820Entry, MultibootInfo } from "./memmap.js";
import type { ElfSegment } from "./elf.js";
import type { BuddyAllocator, MemoryMap } from "../mem/index.js";
import { PAGE_SIZE, ZONE_NAMES } from "../mem/constants.js";


/** "0x" and 16 hex digits, as Linux prints physical addresses. */
export function hex64(value: number): string {
  return "0x" + value.toString(16).padStart(16, "0");
}

/** "[mem 0x...-0x...]" for the byte range [base, end), end exclusive. */
export function memRange(base: number, end: number): string {
  return `[mem ${hex64(base)}-${hex64(end - 1)}]`;
}

function e820TypeName(type: number): string {
  switch (type) {
    case 1:
      return "usable";
    case 2:
      return "reserved";
    case 3:
      return "ACPI data";
    case 4:
      return "ACPI NVS";
    case 5:
      return "unusable";
    default:
      return `type ${type}`;
  }
}

/** The lines MEMMAP logs: the firmware map, every reservation, zones and managed frames. */
export function formatMemoryMapLog(
  info: MultibootInfo,
  ramBytes: number,
  map: MemoryMap,
  allocator: BuddyAllocator,
): string[] {
  const lines: string[] = [];
  lines.push(`multiboot info at 0x${info.infoAddr.toString(16)}, memory map of ${info.entries.length} entries (${info.mmapLength} bytes at 0x${info.mmapAddr.toString(16)})`);
  if (info.cmdline !== null) lines.push(`Command line: ${info.cmdline.text}`);
  lines.push("BIOS-provided physical RAM map:");
  for (const e of info.entries) lines.push(`BIOS-e820: ${e820Range(e)} ${e820TypeName(e.type)}`);
  lines.push(`RAM: ${ramBytes / 1024}K (0x${ramBytes.toString(16)} bytes)`);
  lines.push("Reserved (each range keeps its whole frames out):");
  for (const r of map.reserved()) lines.push(`reserved:  ${memRange(r.base, r.end)} ${r.label}`);
  lines.push("Zone ranges:");
  const zones = allocator.zones();
  for (const name of ZONE_NAMES) {
    const z = zones.find((zone) => zone.name === name);
    const label = name.padEnd(8);
    if (z === undefined) lines.push(`  ${label} empty`);
    else lines.push(`  ${label} ${memRange(z.startPfn * PAGE_SIZE, z.endPfn * PAGE_SIZE)} ${z.managed} managed frames`);
  }
  lines.push("Managed frame ranges:");
  const ranges = map.managedPfnRanges();
  const shown = ranges.slice(0, 16);
  for (const r of shown) lines.push(`  ${memRange(r.startPfn * PAGE_SIZE, r.endPfn * PAGE_SIZE)} ${r.endPfn - r.startPfn} frames`);
  if (ranges.length > shown.length) lines.push(`  ... ${ranges.length - shown.length} more ranges`);
  const managed = allocator.managedPageCount;
  const totalK = ramBytes / 1024;
  const availK = (managed * PAGE_SIZE) / 1024;
  lines.push(
    `Memory: ${availK}K/${totalK}K available (${totalK - availK}K reserved or holes), ${managed} managed frames, max order ${allocator.maxOrder}`,
  );
  return lines;
}

function e820Range(e: E820Entry): string {
  return e.length === 0 ? `[mem ${hex64(e.base)}-(empty)]` : memRange(e.base, e.base + e.length);
}

/**
 * The PT_LOAD segments whose physical range [paddr, paddr + memsz) is not fully inside the image
 * range [imageStart, imageEnd) a guest reported with MEMMAP: frames of such a segment could be
 * handed out while the kernel still uses them.
 */
export function segmentsOutsideImage(segments: readonly ElfSegment[], imageStart: number, imageEnd: number): ElfSegment[] {
  return segments.filter((s) => s.paddr < imageStart || s.paddr + s.memsz > imageEnd);
}

/** The boot-log warning for segmentsOutsideImage(). */
export function formatImageWarning(segment: ElfSegment, imageStart: number, imageEnd: number): string {
  return (
    `WARNING: MEMMAP kernel image [0x${imageStart.toString(16)}, 0x${imageEnd.toString(16)}) misses PT_LOAD segment ` +
    `${memRange(segment.paddr, segment.paddr + segment.memsz)}: frames of the loaded kernel may be handed out`
  );
}
