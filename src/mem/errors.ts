// The allocator's failure vocabulary. Expected failure (no memory) is a return value of 0; a bad
// request from a caller is a BuddyError whose code maps 1:1 onto a hypercall status of the ABI
// (../../docs/protocol.md); a broken invariant in our own code is an assertion that stops loudly.

/** Status numbers shared with the hypercall ABI: the allocator's errors are its statuses 0..6. */
export const OK = 0;
export const ENOMEM = 1;
export const EINVAL = 2;
export const EFAULT = 3;
export const EDOUBLEFREE = 4;
export const EBADORDER = 5;
export const ENOTHEAD = 6;
/** The same numbers by name (the plain constants above are what hot paths use). */
export const Errno = { OK, ENOMEM, EINVAL, EFAULT, EDOUBLEFREE, EBADORDER, ENOTHEAD } as const;

export type ErrnoName = keyof typeof Errno;
export type BuddyErrorCode = Exclude<ErrnoName, "OK" | "ENOMEM">;

const NAMES: readonly ErrnoName[] = ["OK", "ENOMEM", "EINVAL", "EFAULT", "EDOUBLEFREE", "EBADORDER", "ENOTHEAD"];

/** The name of an allocator status number, e.g. 4 -> "EDOUBLEFREE". */
export function errnoName(status: number): ErrnoName {
  const name = NAMES[status];
  if (name === undefined) throw new Error(`errnoName: ${status} is not an allocator status`);
  return name;
}

/** A caller's request was malformed; nothing in the allocator changed. */
export class BuddyError extends Error {
  readonly code: BuddyErrorCode;
  readonly status: number;

  constructor(code: BuddyErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "BuddyError";
    this.code = code;
    this.status = Errno[code];
  }

  /** Builds the error for a non-zero, non-ENOMEM status returned by a try* method. */
  static fromStatus(status: number, what: string): BuddyError {
    const name = errnoName(status);
    if (name === "OK" || name === "ENOMEM") throw new Error(`BuddyError.fromStatus: ${name} is not an error`);
    return new BuddyError(name, what);
  }
}

/** A broken invariant of our own code: never caught, never a guest's fault. */
export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`invariant: ${message}`);
}

/** Formats a number as 0x-prefixed hex, as every address in a message is printed. */
export function hex(value: number): string {
  return "0x" + value.toString(16);
}
