// The browser side of the platform layer: no Node API, only `performance` and window events.

import type { Platform } from "./platform.js";

/**
 * The platform for a page: `wasmUrl` is where the page serves v86.wasm (relative to the page),
 * the clock is performance.now, and the guard listens to window "error" and
 * "unhandledrejection" events (and marks them handled).
 */
export function browserPlatform(wasmUrl: string): Platform {
  return {
    wasmPath: wasmUrl,
    now: () => performance.now(),
    guardUncaught(handler) {
      const onError = (event: ErrorEvent): void => {
        event.preventDefault();
        handler(event.error ?? event.message);
      };
      const onRejection = (event: PromiseRejectionEvent): void => {
        event.preventDefault();
        handler(event.reason);
      };
      globalThis.addEventListener("error", onError);
      globalThis.addEventListener("unhandledrejection", onRejection);
      return () => {
        globalThis.removeEventListener("error", onError);
        globalThis.removeEventListener("unhandledrejection", onRejection);
      };
    },
  };
}
