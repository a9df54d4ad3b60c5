// The Node side of the platform layer: the only place the machine's code path meets Node APIs
// (module resolution for the wasm file, perf_hooks, process events, fs).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import type { Platform } from "./platform.js";

/**
 * The platform for Node: v86.wasm resolved from the installed v86 package (with the ESM build,
 * v86 otherwise looks for build/v86.wasm relative to the cwd), performance.now, and
 * process "uncaughtException"/"unhandledRejection" listeners as the guard.
 */
export function nodePlatform(): Platform {
  return {
    wasmPath: resolveV86Wasm(),
    now: () => performance.now(),
    guardUncaught(handler) {
      const listener = (error: unknown): void => handler(error);
      process.on("uncaughtException", listener);
      process.on("unhandledRejection", listener);
      return () => {
        process.off("uncaughtException", listener);
        process.off("unhandledRejection", listener);
      };
    },
  };
}

/** The path of the installed v86.wasm. Throws with a hint when v86 is not installed. */
export function resolveV86Wasm(): string {
  try {
    return createRequire(import.meta.url).resolve("v86/build/v86.wasm");
  } catch (error) {
    throw new Error(`cannot find v86/build/v86.wasm (is the v86 package installed? run npm ci): ${String(error)}`);
  }
}

/** Reads a kernel image (or any file) as bytes. Throws the fs error, naming the path. */
export function readBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
}
