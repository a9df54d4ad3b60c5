// A reader for 32-bit little-endian ELF executables (the kernels v86 boots with multiboot): the
// entry point, the program headers (PT_LOAD says where the image lands in physical memory) and the
// symbol table (to name an EIP). Spec: the System V ABI, "Object Files" (ELF32 structures).
// Every offset is bounds-checked: a malformed file is an ElfError naming what is wrong, never a
// RangeError or a silently short list.

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read as a little-endian u32
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
const EM_386 = 3;
const EHDR_SIZE = 52;
const PHDR_MIN_SIZE = 32;
const SHDR_MIN_SIZE = 40;
const SYM_SIZE = 16;
export const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const STT_OBJECT = 1;
const STT_FUNC = 2;

/** A program header. Addresses are u32. */
export interface ElfSegment {
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
}

/** A function or data symbol with a non-zero address. */
export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  kind: "func" | "object";
}

export interface Elf32Image {
  entry: number;
  segments: ElfSegment[];
  /** The PT_LOAD segments with memsz > 0: the physical ranges [paddr, paddr + memsz) the loader fills. */
  loadSegments: ElfSegment[];
  /** Function and object symbols, sorted by address. Empty for a stripped file. */
  symbols: ElfSymbol[];
}

/** A file that is not a well-formed ELF32 i386 executable. */
export class ElfError extends Error {
  constructor(message: string) {
    super(`ELF: ${message}`);
    this.name = "ElfError";
  }
}

/** True when bytes start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === ELF_MAGIC;
}

/**
 * The kernel's ELF image, for its symbols and code ranges: null for a kernel that is not ELF (a raw
 * multiboot image) or that readElf32 refuses (the loader then reports why, or loads it otherwise).
 */
export function kernelElfOrNull(bytes: Uint8Array): Elf32Image | null {
  if (!isElf(bytes)) return null;
  try {
    return readElf32(bytes);
  } catch (error) {
    if (error instanceof ElfError) return null;
    throw error;
  }
}

/** Parses an ELF32 little-endian i386 file. Throws ElfError for anything malformed or out of bounds. */
export function readElf32(bytes: Uint8Array): Elf32Image {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < EHDR_SIZE) throw new ElfError(`file of ${bytes.length} bytes is shorter than an ELF header`);
  if (dv.getUint32(0, true) !== ELF_MAGIC) throw new ElfError("no ELF magic (\\x7fELF) at offset 0");
  if (bytes[4] !== ELFCLASS32) throw new ElfError(`class ${bytes[4]} is not ELFCLASS32 (a 64-bit file?)`);
  if (bytes[5] !== ELFDATA2LSB) throw new ElfError("not little-endian");
  const machine = dv.getUint16(18, true);
  if (machine !== EM_386) throw new ElfError(`machine ${machine} is not EM_386`);

  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const shoff = dv.getUint32(32, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  const shentsize = dv.getUint16(46, true);
  const shnum = dv.getUint16(48, true);

  const segments: ElfSegment[] = [];
  if (phnum > 0) {
    if (phentsize < PHDR_MIN_SIZE) throw new ElfError(`program header size ${phentsize} < ${PHDR_MIN_SIZE}`);
    checkInside(bytes, phoff, phentsize * phnum, "program header table");
    for (let i = 0; i < phnum; i++) {
      const p = phoff + i * phentsize;
      segments.push({
        type: dv.getUint32(p, true),
        offset: dv.getUint32(p + 4, true),
        vaddr: dv.getUint32(p + 8, true),
        paddr: dv.getUint32(p + 12, true),
        filesz: dv.getUint32(p + 16, true),
        memsz: dv.getUint32(p + 20, true),
        flags: dv.getUint32(p + 24, true),
      });
    }
  }
  const loadSegments = segments.filter((s) => s.type === PT_LOAD && s.memsz > 0);
  for (const s of loadSegments) {
    checkInside(bytes, s.offset, s.filesz, `PT_LOAD segment at paddr 0x${s.paddr.toString(16)}`);
    if (s.paddr + s.memsz > 2 ** 32) throw new ElfError(`PT_LOAD segment at 0x${s.paddr.toString(16)} wraps past 4 GiB`);
  }

  const symbols = shnum > 0 && shoff !== 0 ? readSymbols(bytes, dv, shoff, shentsize, shnum) : [];
  return { entry, segments, loadSegments, symbols };
}

function readSymbols(bytes: Uint8Array, dv: DataView, shoff: number, shentsize: number, shnum: number): ElfSymbol[] {
  if (shentsize < SHDR_MIN_SIZE) throw new ElfError(`section header size ${shentsize} < ${SHDR_MIN_SIZE}`);
  checkInside(bytes, shoff, shentsize * shnum, "section header table");
  const section = (i: number) => {
    const s = shoff + i * shentsize;
    return {
      type: dv.getUint32(s + 4, true),
      offset: dv.getUint32(s + 16, true),
      size: dv.getUint32(s + 20, true),
      link: dv.getUint32(s + 24, true),
    };
  };
  const out: ElfSymbol[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: false });
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_SYMTAB) continue;
    if (symtab.link >= shnum) throw new ElfError(`symbol table ${i} links to missing section ${symtab.link}`);
    const strtab = section(symtab.link);
    checkInside(bytes, symtab.offset, symtab.size, "symbol table");
    checkInside(bytes, strtab.offset, strtab.size, "string table");
    for (let p = symtab.offset; p + SYM_SIZE <= symtab.offset + symtab.size; p += SYM_SIZE) {
      const nameOff = dv.getUint32(p, true);
      const value = dv.getUint32(p + 4, true);
      const size = dv.getUint32(p + 8, true);
      const type = bytes[p + 12]! & 0xf;
      if ((type !== STT_FUNC && type !== STT_OBJECT) || value === 0 || nameOff >= strtab.size) continue;
      const start = strtab.offset + nameOff;
      let end = start;
      while (end < strtab.offset + strtab.size && bytes[end] !== 0) end++;
      out.push({ name: decoder.decode(bytes.subarray(start, end)), value, size, kind: type === STT_FUNC ? "func" : "object" });
    }
  }
  return out.sort((a, b) => a.value - b.value);
}

function checkInside(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (offset + length > bytes.length) {
    throw new ElfError(`${what} [0x${offset.toString(16)}, +0x${length.toString(16)}) lies past the end of the ${bytes.length}-byte file`);
  }
}

/**
 * Names an address as "symbol+0xoff" using the nearest function or object at or below it (within
 * its size when the size is known). Returns undefined when no symbol covers it.
 */
export function symbolize(image: Elf32Image, addr: number): string | undefined {
  const syms = image.symbols;
  let lo = 0;
  let hi = syms.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (syms[mid]!.value <= addr) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (best < 0) return undefined;
  const sym = syms[best]!;
  if (sym.size !== 0 && addr >= sym.value + sym.size) return undefined;
  const off = addr - sym.value;
  return off === 0 ? sym.name : `${sym.name}+0x${off.toString(16)}`;
}
