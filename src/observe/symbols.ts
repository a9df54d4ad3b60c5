// Names for guest addresses, from the kernel ELF's .symtab/.strtab (src/machine/elf.ts reads them):
// "function+0xoff" as Linux prints backtraces, and the "owner" of a stack, the first frame outside the
// hypercall wrappers (hc_alloc_pages, get_free_page, ...) that every allocation passes through, which
// is what a memory map colours by. Any multiboot kernel with symbols gets names; without, hex.

import { symbolize, type Elf32Image } from "../machine/elf.js";
import type { StackDepot } from "./stack-depot.js";

/**
 * Functions that only forward a request to the port: the bundled guest's hc.c wrappers and the
 * Linux-style names a user's kernel is likely to give them. A stack's owner skips these.
 */
export const DEFAULT_WRAPPER_PATTERN = /^(hc_\w*|__?get_free_pages?|get_zeroed_page|free_pages?|__?alloc_pages\w*|alloc_contig|free_contig)$/;

export class Symbolizer {
  private readonly owners = new Map<number, string>();

  constructor(
    readonly elf: Elf32Image | null,
    private readonly wrappers: RegExp = DEFAULT_WRAPPER_PATTERN,
  ) {}

  /** "function+0xoff", or "0x%08x" when no symbol covers addr. */
  format(addr: number): string {
    return this.symbol(addr) ?? hex8(addr);
  }

  /** "function+0xoff", or null when no symbol covers addr (or the kernel has none). */
  symbol(addr: number): string | null {
    return (this.elf !== null ? symbolize(this.elf, addr) : undefined) ?? null;
  }

  /** The bare name of the function or object covering addr, or null. */
  functionOf(addr: number): string | null {
    const name = this.elf !== null ? symbolize(this.elf, addr) : undefined;
    if (name === undefined) return null;
    const plus = name.lastIndexOf("+0x");
    return plus > 0 ? name.slice(0, plus) : name;
  }

  /**
   * The owner of a stack: the function of its first frame that is not a wrapper (the EIP's own
   * function when every frame is one), or the EIP in hex without symbols. Cached per handle.
   */
  ownerOf(depot: StackDepot, handle: number): string {
    const known = this.owners.get(handle);
    if (known !== undefined) return known;
    let owner: string | null = null;
    const depth = depot.depth(handle);
    for (let i = 0; i < depth && owner === null; i++) {
      const fn = this.functionOf(depot.frame(handle, i));
      if (fn !== null && !this.wrappers.test(fn)) owner = fn;
    }
    if (owner === null) owner = this.functionOf(depot.frame(handle, 0)) ?? hex8(depot.frame(handle, 0));
    this.owners.set(handle, owner);
    return owner;
  }

  /** Every frame of a stack, formatted. */
  formatStack(depot: StackDepot, handle: number): string[] {
    return depot.frames(handle).map((a) => this.format(a));
  }
}

export function hex8(addr: number): string {
  return "0x" + (addr >>> 0).toString(16).padStart(8, "0");
}
