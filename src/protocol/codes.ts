// The hypercall command numbers (../../shared/PROTOCOL.md), as plain constants in a module that
// imports nothing: esbuild folds such a module's numeric constants into the code that uses them,
// where `Cmd.MARK` is a property load V8 guards on every use. abi.ts builds COMMANDS (and Cmd, the
// C header, the docs) from these, so they stay the one place the numbers are written.

export const HC_HELLO = 0x00;
export const HC_MEMMAP = 0x01;
export const HC_RESERVE = 0x02;
export const HC_ALLOC_PAGES = 0x10;
export const HC_FREE_PAGES = 0x11;
export const HC_ALLOC_CONTIG = 0x12;
export const HC_FREE_CONTIG = 0x13;
export const HC_STAT = 0x20;
export const HC_MARK = 0x21;
export const HC_BATCH = 0x30;
export const HC_EXIT = 0x3f;
