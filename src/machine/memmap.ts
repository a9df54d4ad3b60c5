// The MEMMAP hook's reading half: validates the multiboot (v1) info, its memory map and its cmdline
// in guest memory, and turns them plus the kernel image and the guest's RESERVE ranges into the
// MemoryMap the allocator is built from. Nothing here changes state; a failed MEMMAP can be retried.
//
// Validation follows the ABI's precedence (EINVAL > EFAULT): a check that can be made is made even
// when another structure faulted, and any EINVAL wins over any EFAULT. Structures must lie fully
// inside guest RAM, which excludes the VGA window [0xA0000, 0xC0000): v86 maps it to the video card,
// so the host's view of those bytes is not what the guest wrote there.

import { LIMITS, MULTIBOOT, Status } from "../protocol/abi.js";
import { MemoryMap, PAGE_SIZE } from "../mem/index.js";

/** The legacy hole the host always reserves: VGA memory, then option ROMs and the BIOS. */
export const LEGACY_HOLE_START = 0xa0000;
export const LEGACY_HOLE_END = 0x100000;
/** The part of the hole that is MMIO in v86 (not RAM for reads of guest structures). */
const VGA_MMIO_END = 0xc0000;
/** A multiboot map entry: size u32 at +0 (bytes after itself, >= 20), base u64 at +4, length u64 at +12, type u32 at +20. */
const MMAP_ENTRY_BASE = 4;
const MMAP_ENTRY_LENGTH = 12;
const MMAP_ENTRY_TYPE = 20;

/**
 * True when [addr, addr + length) lies inside guest RAM of ramBytes bytes and outside the VGA
 * window. addr and length are uint32 values (possibly summing past 4 GiB, which is outside).
 */
export function inGuestRam(addr: number, length: number, ramBytes: number): boolean {
  const end = addr + length;
  if (end > ramBytes) return false;
  return end <= LEGACY_HOLE_START || addr >= VGA_MMIO_END;
}

/** One entry of the multiboot memory map ("BIOS-e820" in a Linux boot log). */
export interface E820Entry {
  /** Byte address; may exceed 4 GiB (read from a u64, exact below 2^53). */
  base: number;
  length: number;
  /** 1 = usable RAM; anything else is not RAM. */
  type: number;
}

/** The validated multiboot structures, with the byte ranges the host must reserve for them. */
export interface MultibootInfo {
  infoAddr: number;
  mmapAddr: number;
  mmapLength: number;
  entries: E820Entry[];
  /** Address and length (through its NUL) of the cmdline, or null when flags bit 2 is clear. */
  cmdline: { addr: number; bytes: number; text: string } | null;
}

/** status OK with info, or a failing status with info null. */
export interface MultibootResult {
  status: number;
  info: MultibootInfo | null;
}

/**
 * Reads and validates the multiboot info at infoAddr in `ram` (guest physical memory). Returns
 * OK with the parsed info, EFAULT when the info, the map or the cmdline is not inside RAM, or
 * EINVAL when flags bit 6 is missing, an entry's size is below 20 or it overruns the map, the map
 * has more than 128 entries, or the cmdline has no NUL within 4 KiB.
 */
export function readMultibootInfo(ram: Uint8Array, dv: DataView, infoAddr: number): MultibootResult {
  const ramBytes = ram.length;
  if (!inGuestRam(infoAddr, LIMITS.MULTIBOOT_INFO_SIZE, ramBytes)) return { status: Status.EFAULT, info: null };
  const flags = dv.getUint32(infoAddr, true);
  if ((flags & MULTIBOOT.INFO_FLAG_MMAP) === 0) return { status: Status.EINVAL, info: null };

  let einval = false;
  let efault = false;

  // The memory map: a sequence of (size u32, body of `size` bytes); size >= 20.
  const mmapLength = dv.getUint32(infoAddr + MULTIBOOT.INFO_MMAP_LENGTH, true);
  const mmapAddr = dv.getUint32(infoAddr + MULTIBOOT.INFO_MMAP_ADDR, true);
  const entries: E820Entry[] = [];
  if (!inGuestRam(mmapAddr, mmapLength, ramBytes)) {
    efault = true;
  } else {
    let off = 0;
    while (off < mmapLength) {
      if (entries.length === LIMITS.MMAP_MAX_ENTRIES || off + 4 > mmapLength) {
        einval = true; // a 129th entry, or a size field cut by the end of the map
        break;
      }
      const p = mmapAddr + off;
      const size = dv.getUint32(p, true);
      if (size < LIMITS.MMAP_ENTRY_MIN_SIZE || off + 4 + size > mmapLength) {
        einval = true;
        break;
      }
      entries.push({
        base: dv.getUint32(p + MMAP_ENTRY_BASE, true) + dv.getUint32(p + MMAP_ENTRY_BASE + 4, true) * 2 ** 32,
        length: dv.getUint32(p + MMAP_ENTRY_LENGTH, true) + dv.getUint32(p + MMAP_ENTRY_LENGTH + 4, true) * 2 ** 32,
        type: dv.getUint32(p + MMAP_ENTRY_TYPE, true),
      });
      off += 4 + size;
    }
  }

  // The cmdline: NUL-terminated within CMDLINE_MAX bytes (the NUL included).
  let cmdline: MultibootInfo["cmdline"] = null;
  if ((flags & MULTIBOOT.INFO_FLAG_CMDLINE) !== 0) {
    const addr = dv.getUint32(infoAddr + MULTIBOOT.INFO_CMDLINE, true);
    const window = Math.min(LIMITS.CMDLINE_MAX, Math.max(0, ramBytes - addr));
    const nul = inGuestRam(addr, 1, ramBytes) ? ram.subarray(addr, addr + window).indexOf(0) : -1;
    if (nul >= 0 && inGuestRam(addr, nul + 1, ramBytes)) {
      cmdline = { addr, bytes: nul + 1, text: new TextDecoder().decode(ram.subarray(addr, addr + nul)) };
    } else if (nul < 0 && window === LIMITS.CMDLINE_MAX && inGuestRam(addr, window, ramBytes)) {
      einval = true; // 4 KiB of RAM without a NUL
    } else {
      efault = true; // RAM (or the part outside the VGA window) ends before the NUL
    }
  }

  if (einval) return { status: Status.EINVAL, info: null };
  if (efault) return { status: Status.EFAULT, info: null };
  return { status: Status.OK, info: { infoAddr, mmapAddr, mmapLength, entries, cmdline } };
}

/** A range the guest asked to keep out with RESERVE. */
export interface GuestReservation {
  base: number;
  length: number;
}

/**
 * Builds the allocator's memory map: type-1 entries clipped to [0, ramBytes), merged, and rounded
 * inward to whole frames (MemoryMap: two touching entries lose no frame between them); reserved
 * (rounded outward by MemoryMap): any other type's entry inside RAM, so a frame the firmware calls
 * reserved, ACPI or bad is never handed out even where a type-1 entry overlaps it (Linux's e820
 * sanitising gives an overlap to the more restrictive type), frame 0, the legacy hole, the info, the
 * map bytes, the cmdline through its NUL, the kernel image [imageStart, imageEnd) and every RESERVE.
 */
export function buildMemoryMap(
  info: MultibootInfo,
  ramBytes: number,
  imageStart: number,
  imageEnd: number,
  reservations: readonly GuestReservation[],
): MemoryMap {
  const map = new MemoryMap();
  for (const e of info.entries) {
    const base = Math.min(e.base, ramBytes);
    const end = Math.min(e.base + e.length, ramBytes);
    if (end <= base) continue;
    if (e.type === MULTIBOOT.MMAP_TYPE_RAM) map.addUsable(base, end - base);
    else map.reserve(base, end - base, `firmware type ${e.type}`);
  }
  map.reserve(0, PAGE_SIZE, "frame 0");
  map.reserve(LEGACY_HOLE_START, LEGACY_HOLE_END - LEGACY_HOLE_START, "VGA and ROM hole");
  map.reserve(info.infoAddr, LIMITS.MULTIBOOT_INFO_SIZE, "multiboot info");
  if (info.mmapLength > 0) map.reserve(info.mmapAddr, info.mmapLength, "multiboot memory map");
  if (info.cmdline !== null) map.reserve(info.cmdline.addr, info.cmdline.bytes, "multiboot cmdline");
  if (imageEnd > imageStart) map.reserve(imageStart, imageEnd - imageStart, "kernel image");
  reservations.forEach((r, i) => map.reserve(r.base, r.length, `RESERVE #${i + 1}`));
  return map;
}
