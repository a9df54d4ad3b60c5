// Parsing of the CLI's value syntaxes: sizes (128M, 1G, 2G-128K, max), durations (60s, 500ms, 2m)
// and plain counts. Each parser throws UsageError with a message saying what to type instead.

import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { MEMORY_MAX_BYTES } from "../machine/index.js";

/** setTimeout's largest delay (2^31 - 1 ms, about 24.8 days): Node fires a longer one at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A mistake in the command line: reported with exit code 2 and no run. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const SIZE_UNITS: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/**
 * A byte size: a number with an optional K/M/G suffix (binary units, "KiB"/"MB" spellings allowed),
 * optionally minus another ("2G-128K"), or "max" for v86's largest RAM (2 GiB - 128 KiB).
 */
export function parseSize(text: string): number {
  if (text.trim().toLowerCase() === "max") return MEMORY_MAX_BYTES;
  const terms = text.split("-");
  if (terms.length > 2) throw new UsageError(`bad size "${text}": use e.g. 128M, 1G or 2G-128K`);
  const values = terms.map((term) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*$/i.exec(term);
    if (m === null) throw new UsageError(`bad size "${text}": use e.g. 128M, 1G or 2G-128K`);
    return Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!;
  });
  const bytes = values.length === 2 ? values[0]! - values[1]! : values[0]!;
  if (!Number.isInteger(bytes) || bytes <= 0) throw new UsageError(`bad size "${text}": it must be a positive whole number of bytes`);
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** A duration in ms: "60s", "500ms", "2m"; a bare number is seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (m === null) throw new UsageError(`bad duration "${text}": use e.g. 60s, 500ms or 2m`);
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? "s"]!;
  if (!(ms > 0)) throw new UsageError(`bad duration "${text}": it must be positive`);
  if (ms > MAX_TIMEOUT_MS) throw new UsageError(`bad duration "${text}": at most ${MAX_TIMEOUT_MS} ms (about 24 days)`);
  return ms;
}

/**
 * An output file given on the command line (`--trace`, `--map`, `--frag`), checked before anything
 * runs: its extension when `extensions` are given, a folder that exists and may be written, and no
 * folder of that name. A run's result is then never lost to a file that cannot be written.
 */
export function checkOutputPath(flag: string, file: string, extensions: readonly string[] = []): void {
  if (extensions.length > 0 && !extensions.some((e) => file.toLowerCase().endsWith(e)))
    throw new UsageError(`${flag} ${file}: the file must end in ${extensions.join(" or ")}`);
  const path = resolve(file);
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) throw new Error("it is a folder");
    accessSync(dirname(path), constants.W_OK);
  } catch (e) {
    throw new UsageError(`${flag} ${file}: cannot write there (${(e as Error).message})`);
  }
}

/** True when the user gave option `name` (commander's attribute name) on the command line. */
export function givenOption(cmd: Pick<Command, "getOptionValueSource">, name: string): boolean {
  const source = cmd.getOptionValueSource(name);
  return source !== undefined && source !== "default";
}

/** A non-negative integer that fits in 32 bits (decimal or 0x hex), named in the error. */
export function parseCount(what: string, text: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`bad ${what} "${text}": use a whole number from 0 to 4294967295`);
  return n;
}
