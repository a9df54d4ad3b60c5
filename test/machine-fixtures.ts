// Tiny multiboot kernels built in the test itself: a minimal x86 assembler (just the instructions
// these tests need, with label fixups) and an ELF32 writer with one PT_LOAD segment at 1 MiB whose
// multiboot header sits right after the program header. No toolchain needed.

import { Cmd } from "../src/protocol/abi.js";

export const EAX = 0;
export const ECX = 1;
export const EDX = 2;
export const EBX = 3;
export const ESP = 4;
export const EBP = 5;
export const ESI = 6;
export const EDI = 7;

export const LOAD_ADDR = 0x100000;
const EHDR = 52;
const PHDR = 32;
const HEADER_OFFSET = EHDR + PHDR; // 84, 4-aligned
const CODE_OFFSET = HEADER_OFFSET + 12;

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

export class Asm {
  readonly bytes: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string }[] = [];

  raw(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  label(name: string): this {
    this.labels.set(name, this.bytes.length);
    return this;
  }
  /** mov r32, imm32 */
  mov(reg: number, imm: number): this {
    return this.raw(0xb8 + reg, ...le32(imm >>> 0));
  }
  /** mov dst, src (r32) */
  movReg(dst: number, src: number): this {
    return this.raw(0x89, 0xc0 | (src << 3) | dst);
  }
  /** in eax, HC_PORT */
  in32(): this {
    return this.raw(0xe5, 0xe0);
  }
  /** One hypercall with immediate arguments (clobbers EAX, EBX, ECX, ESI). */
  hc(cmd: number, arg0 = 0, arg1 = 0, arg2 = 0): this {
    return this.mov(EAX, cmd).mov(EBX, arg0).mov(ECX, arg1).mov(ESI, arg2).in32();
  }
  /** cmp r32, imm32 */
  cmp(reg: number, imm: number): this {
    return this.raw(0x81, 0xf8 | reg, ...le32(imm >>> 0));
  }
  /** cmp byte [eax + disp32], imm8 */
  cmpByteAtEax(disp: number, imm: number): this {
    return this.raw(0x80, 0xb8, ...le32(disp), imm);
  }
  /** mov byte [eax + disp32], imm8 */
  storeByteAtEax(disp: number, imm: number): this {
    return this.raw(0xc6, 0x80, ...le32(disp), imm);
  }
  dec(reg: number): this {
    return this.raw(0x48 + reg);
  }
  jnz(label: string): this {
    return this.jump([0x0f, 0x85], label);
  }
  jz(label: string): this {
    return this.jump([0x0f, 0x84], label);
  }
  jmp(label: string): this {
    return this.jump([0xe9], label);
  }
  /** EXIT(code) */
  exit(code: number): this {
    return this.hc(Cmd.EXIT, code);
  }
  /** cli; hlt; jmp back to hlt */
  halt(): this {
    return this.raw(0xfa, 0xf4, 0xeb, 0xfd);
  }
  /** Writes text to COM1 (out dx, al per byte). */
  print(text: string): this {
    this.mov(EDX, 0x3f8);
    for (const c of new TextEncoder().encode(text)) this.raw(0xb0, c, 0xee);
    return this;
  }
  private jump(opcode: number[], label: string): this {
    this.raw(...opcode);
    this.fixups.push({ at: this.bytes.length, label });
    return this.raw(0, 0, 0, 0);
  }
  /** The code with every jump resolved. */
  assemble(): Uint8Array {
    const out = Uint8Array.from(this.bytes);
    const dv = new DataView(out.buffer);
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) throw new Error(`Asm: undefined label ${f.label}`);
      dv.setInt32(f.at, target - (f.at + 4), true);
    }
    return out;
  }
}

export interface TinyKernel {
  elf: Uint8Array;
  /** [imageStart, imageEnd): the PT_LOAD segment, bss included. */
  imageStart: number;
  imageEnd: number;
}

/**
 * An ELF32 multiboot kernel: one PT_LOAD at 1 MiB holding the whole file plus bssBytes of bss;
 * the multiboot header (flags: memory info) at file offset 84; entry = the first code byte.
 * `headerFlags` and `withHeader` let tests build broken kernels.
 */
export function tinyKernel(code: Uint8Array, opts: { bssBytes?: number; headerFlags?: number; withHeader?: boolean } = {}): TinyKernel {
  const size = CODE_OFFSET + code.length;
  const memsz = size + (opts.bssBytes ?? 0x1000);
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(20, 1, true);
  dv.setUint32(24, LOAD_ADDR + CODE_OFFSET, true); // entry
  dv.setUint32(28, EHDR, true); // phoff
  dv.setUint16(40, EHDR, true);
  dv.setUint16(42, PHDR, true);
  dv.setUint16(44, 1, true);
  dv.setUint16(46, 40, true);
  // PT_LOAD
  dv.setUint32(EHDR + 0, 1, true);
  dv.setUint32(EHDR + 4, 0, true);
  dv.setUint32(EHDR + 8, LOAD_ADDR, true);
  dv.setUint32(EHDR + 12, LOAD_ADDR, true);
  dv.setUint32(EHDR + 16, size, true);
  dv.setUint32(EHDR + 20, memsz, true);
  dv.setUint32(EHDR + 24, 7, true);
  dv.setUint32(EHDR + 28, 0x1000, true);
  if (opts.withHeader !== false) {
    const flags = opts.headerFlags ?? 0x2;
    dv.setUint32(HEADER_OFFSET, 0x1badb002, true);
    dv.setUint32(HEADER_OFFSET + 4, flags, true);
    dv.setUint32(HEADER_OFFSET + 8, (-(0x1badb002 + flags)) >>> 0, true);
  }
  b.set(code, CODE_OFFSET);
  return { elf: b, imageStart: LOAD_ADDR, imageEnd: LOAD_ADDR + memsz };
}

/** The kernel's image end, known before assembling: code size does not depend on it. */
export function imageEndFor(codeBytes: number, bssBytes = 0x1000): number {
  return LOAD_ADDR + CODE_OFFSET + codeBytes + bssBytes;
}

/**
 * A guest that says HELLO, MEMMAP(EBX at entry, image), then `ops` times allocates an order-`order`
 * block with `gfp`, checks its first byte is 0 when gfp has GFP_ZERO, dirties the first and last
 * byte, and frees it; EXIT(0), or EXIT(1) at the first failing status or dirty byte.
 * The image range passed to MEMMAP can be overridden (imageEndOverride) to test the PT_LOAD warning.
 */
export function churnKernel(ops: number, gfp: number, order = 0, imageEndOverride?: number): TinyKernel {
  const build = (imageEnd: number): Uint8Array => {
    const a = new Asm();
    a.movReg(EDI, EBX);
    a.hc(Cmd.HELLO, 1);
    a.mov(EAX, Cmd.MEMMAP).movReg(EBX, EDI).mov(ECX, LOAD_ADDR).mov(ESI, imageEnd).in32();
    a.cmp(EBX, 0).jnz("fail");
    a.mov(EBP, ops);
    a.label("loop");
    a.hc(Cmd.ALLOC_PAGES, order, gfp);
    a.cmp(EBX, 0).jnz("fail");
    if (gfp & 0x100) {
      a.cmpByteAtEax(0, 0).jnz("fail");
      a.cmpByteAtEax((4096 << order) - 1, 0).jnz("fail");
    }
    a.storeByteAtEax(0, 0xaa).storeByteAtEax((4096 << order) - 1, 0x55);
    a.movReg(EBX, EAX).mov(EAX, Cmd.FREE_PAGES).mov(ECX, order).in32();
    a.cmp(EBX, 0).jnz("fail");
    a.dec(EBP).jnz("loop");
    a.exit(0).halt();
    a.label("fail");
    a.exit(1).halt();
    return a.assemble();
  };
  const probe = build(0);
  const end = imageEndOverride ?? imageEndFor(probe.length);
  return tinyKernel(build(end));
}
