// The buddy86 hypercall ABI, version 1, as data: the one source of truth for the host bridge, the
// generated guest header (guest/include/buddy86.h) and the docs. The contract text is the team's
// PROTOCOL.md (../../../shared/PROTOCOL.md); docs/protocol.md gives it with what this host does at every limit.
// Transport: a 32-bit `in` from HC_PORT with EAX = command, EBX/ECX/ESI = arg0..arg2; the host
// answers in EAX (result) and EBX (status) and leaves every other register alone.

import { Errno, type ErrnoName } from "../mem/errors.js";
import { GFP } from "../mem/constants.js";
import { HC_ALLOC_CONTIG, HC_ALLOC_PAGES, HC_BATCH, HC_EXIT, HC_FREE_CONTIG, HC_FREE_PAGES, HC_HELLO, HC_MARK, HC_MEMMAP, HC_RESERVE, HC_STAT } from "./codes.js";

export const ABI_VERSION = 1;
export const HC_PORT = 0xe0;

/** Each command: its number, its name in C (HC_*) and what it does, one line. */
export const COMMANDS = [
  { code: HC_HELLO, name: "HELLO", doc: "arg0 = ABI version the guest speaks -> host ABI version" },
  { code: HC_MEMMAP, name: "MEMMAP", doc: "arg0 = multiboot info, arg1 = image start, arg2 = image end -> managed frames" },
  { code: HC_RESERVE, name: "RESERVE", doc: "arg0 = start, arg1 = length in bytes; before MEMMAP only" },
  { code: HC_ALLOC_PAGES, name: "ALLOC_PAGES", doc: "arg0 = order, arg1 = gfp -> block address" },
  { code: HC_FREE_PAGES, name: "FREE_PAGES", doc: "arg0 = address, arg1 = order" },
  { code: HC_ALLOC_CONTIG, name: "ALLOC_CONTIG", doc: "arg0 = npages, arg1 = alignment in frames, arg2 = gfp -> address" },
  { code: HC_FREE_CONTIG, name: "FREE_CONTIG", doc: "arg0 = address, arg1 = npages" },
  { code: HC_STAT, name: "STAT", doc: "arg0 = item, arg1 = item argument -> value" },
  { code: HC_MARK, name: "MARK", doc: "arg0 = address of a NUL-terminated label (at most 63 bytes)" },
  { code: HC_BATCH, name: "BATCH", doc: "arg0 = record array, arg1 = count (1..4096) -> records that ended OK" },
  { code: HC_EXIT, name: "EXIT", doc: "arg0 = exit code; does not return" },
] as const;

export type CommandName = (typeof COMMANDS)[number]["name"];
export const Cmd = Object.fromEntries(COMMANDS.map((c) => [c.name, c.code])) as { [K in CommandName]: number };

/** Statuses in EBX. 0..6 are the allocator's own (src/mem/errors.ts); 7..9 belong to the bridge. */
export const STATUSES = [
  { code: Errno.OK, name: "OK", doc: "done" },
  { code: Errno.ENOMEM, name: "ENOMEM", doc: "no block satisfies the request (result 0)" },
  { code: Errno.EINVAL, name: "EINVAL", doc: "bad argument or malformed structure" },
  { code: Errno.EFAULT, name: "EFAULT", doc: "address unaligned, outside RAM or managed memory, or reserved" },
  { code: Errno.EDOUBLEFREE, name: "EDOUBLEFREE", doc: "the block is already free" },
  { code: Errno.EBADORDER, name: "EBADORDER", doc: "order or npages does not match the allocated block" },
  { code: Errno.ENOTHEAD, name: "ENOTHEAD", doc: "inside an allocated block but not its first frame" },
  { code: 7, name: "ENOSYS", doc: "unknown command" },
  { code: 8, name: "ESTATE", doc: "not valid now (before MEMMAP, MEMMAP twice, RESERVE after MEMMAP)" },
  { code: 9, name: "EVERSION", doc: "HELLO with an ABI version the host does not speak" },
] as const;

export type StatusName = (typeof STATUSES)[number]["name"];
export const Status = Object.fromEntries(STATUSES.map((s) => [s.name, s.code])) as { [K in StatusName]: number };
// The allocator's statuses must be the ABI's: a compile-time check that every Errno name is a status.
const _errnoIsStatus: readonly StatusName[] = Object.keys(Errno) as ErrnoName[];
void _errnoIsStatus;

/** GFP flags (arg1 of ALLOC_PAGES, arg2 of ALLOC_CONTIG). */
export const GFP_FLAGS = [
  { name: "GFP_KERNEL", value: GFP.KERNEL, doc: "zone Normal, falling back to DMA" },
  { name: "GFP_DMA", value: GFP.DMA, doc: "zone DMA only (below 16 MiB)" },
  { name: "GFP_HIGHMEM", value: GFP.HIGHMEM, doc: "zone HighMem, falling back to Normal, then DMA" },
  { name: "GFP_ZERO", value: GFP.ZERO, doc: "the block's bytes are zero when the call returns" },
] as const;

/** STAT items (arg0 of STAT). */
export const STAT_ITEMS = [
  { code: 0, name: "STAT_FREE_PAGES", doc: "free frames, all zones, including the per-CPU cache" },
  { code: 1, name: "STAT_MANAGED_PAGES", doc: "managed frames" },
  { code: 2, name: "STAT_MAX_ORDER", doc: "max order (inclusive)" },
  { code: 3, name: "STAT_FREE_BLOCKS", doc: "free blocks of order arg1 in the buddy lists, summed over zones" },
  { code: 4, name: "STAT_ZONES", doc: "number of zones" },
] as const;
export const Stat = {
  FREE_PAGES: 0,
  MANAGED_PAGES: 1,
  MAX_ORDER: 2,
  FREE_BLOCKS: 3,
  ZONES: 4,
} as const;

/** BATCH record layout: 16 bytes, little-endian. */
export const BATCH_RECORD = {
  SIZE: 16,
  CMD: 0, // u16: ALLOC_PAGES, FREE_PAGES or STAT
  STATUS: 2, // u16, written by the host
  ARG0: 4, // u32
  ARG1: 8, // u32
  RESULT: 12, // u32, written by the host
} as const;

/** Every limit the guest controls, in one place (docs/protocol.md lists them). */
export const LIMITS = {
  BATCH_MAX_RECORDS: 4096,
  MARK_LABEL_MAX: 63,
  MMAP_MAX_ENTRIES: 128,
  MMAP_ENTRY_MIN_SIZE: 20,
  CMDLINE_MAX: 4096,
  RESERVE_MAX_RANGES: 64,
  MULTIBOOT_INFO_SIZE: 116,
} as const;

/** Multiboot (v1) constants the bridge and the guest both use. */
export const MULTIBOOT = {
  BOOTLOADER_MAGIC: 0x2badb002,
  HEADER_MAGIC: 0x1badb002,
  INFO_FLAG_CMDLINE: 1 << 2,
  INFO_FLAG_MMAP: 1 << 6,
  INFO_CMDLINE: 16,
  INFO_MMAP_LENGTH: 44,
  INFO_MMAP_ADDR: 48,
  MMAP_TYPE_RAM: 1,
} as const;

/** The command name for a number, or undefined for an unknown command. */
export function commandName(code: number): CommandName | undefined {
  return COMMANDS.find((c) => c.code === code)?.name;
}
