// Checks on a kernel file before v86 boots it, because v86 itself checks almost nothing: it scans
// only the first 8 KiB for the multiboot header (without one, the CPU runs garbage in real mode),
// skips PT_LOAD segments that do not fit in RAM without a word, and passes a memory map only when
// the header asks for memory information (flags bit 1). Spec: Multiboot 0.6.96, section 3.1.

import { MULTIBOOT } from "../protocol/abi.js";
import { isElf, readElf32, type Elf32Image } from "./elf.js";

/** v86 looks for the header in this many leading bytes (the spec's MULTIBOOT_SEARCH). */
export const MULTIBOOT_SEARCH_BYTES = 8192;
/** Header flag bits: 1 = pass memory information, 16 = the a.out kludge (addresses in the header). */
export const HEADER_FLAG_MEMORY_INFO = 1 << 1;
export const HEADER_FLAG_AOUT_KLUDGE = 1 << 16;
/** The header flags v86 implements (page-align modules, memory info, a.out kludge). */
const HEADER_FLAGS_SUPPORTED = 1 | HEADER_FLAG_MEMORY_INFO | HEADER_FLAG_AOUT_KLUDGE;

/** The kernel file cannot boot; the message says why and what to do. */
export class KernelImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KernelImageError";
  }
}

export interface MultibootHeader {
  /** File offset of the header's magic. */
  offset: number;
  flags: number;
}

/** The first valid multiboot header (magic, and magic + flags + checksum == 0) in the first 8 KiB. */
export function findMultibootHeader(kernel: Uint8Array): MultibootHeader | null {
  const dv = new DataView(kernel.buffer, kernel.byteOffset, kernel.byteLength);
  const limit = Math.min(MULTIBOOT_SEARCH_BYTES, kernel.length) - 12;
  for (let off = 0; off <= limit; off += 4) {
    if (dv.getUint32(off, true) !== MULTIBOOT.HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true);
    const checksum = dv.getUint32(off + 8, true);
    if (((MULTIBOOT.HEADER_MAGIC + flags + checksum) >>> 0) === 0) return { offset: off, flags };
  }
  return null;
}

/** What the checks learned about a bootable kernel, and warnings worth a boot-log line. */
export interface KernelCheck {
  header: MultibootHeader;
  /** The parsed ELF, or null for an a.out-kludge binary. */
  elf: Elf32Image | null;
  warnings: string[];
}

/**
 * Throws KernelImageError when v86 could not boot `kernel` in memoryBytes of RAM: no multiboot
 * header in the first 8 KiB, neither ELF nor the a.out kludge, a malformed ELF, or a PT_LOAD
 * segment that does not fit below the end of RAM.
 */
export function checkKernelImage(kernel: Uint8Array, memoryBytes: number): KernelCheck {
  if (kernel.length === 0) throw new KernelImageError("the kernel file is empty");
  const header = findMultibootHeader(kernel);
  if (header === null) {
    throw new KernelImageError(
      "no multiboot header in the first 8 KiB of the kernel: put the header first in .text (linker script) so v86 finds it",
    );
  }
  const warnings: string[] = [];
  if ((header.flags & HEADER_FLAG_MEMORY_INFO) === 0) {
    warnings.push("WARNING: the multiboot header does not set flags bit 1 (memory info): v86 passes no memory map and MEMMAP will fail");
  }
  if ((header.flags & ~HEADER_FLAGS_SUPPORTED) !== 0) {
    warnings.push(`WARNING: multiboot header flags 0x${header.flags.toString(16)} ask for features v86 does not implement`);
  }
  let elf: Elf32Image | null = null;
  if ((header.flags & HEADER_FLAG_AOUT_KLUDGE) === 0) {
    if (!isElf(kernel)) throw new KernelImageError("the kernel is not an ELF file and its multiboot header does not use the a.out kludge (flags bit 16)");
    try {
      elf = readElf32(kernel);
    } catch (error) {
      throw new KernelImageError(`the kernel is not a usable ELF32 i386 file: ${(error as Error).message}`);
    }
    for (const s of elf.loadSegments) {
      // v86 loads a segment only when paddr + memsz < memory size, and skips it silently otherwise.
      if (s.paddr + s.memsz >= memoryBytes) {
        throw new KernelImageError(
          `kernel segment [0x${s.paddr.toString(16)}, 0x${(s.paddr + s.memsz).toString(16)}) does not fit in ${memoryBytes} bytes of RAM: give the guest more memory`,
        );
      }
    }
  }
  return { header, elf, warnings };
}
