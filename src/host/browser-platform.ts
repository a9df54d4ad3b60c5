// The browser side of the platform layer: no Node API, only `performance` and window events.

import type { Platform } from "./platform.js";

/**
 * The query a worker running v86 is started with (`new Worker("worker.js?" + V86_WORKER_QUERY)`).
 * Between main-loop slices (about a millisecond of guest time each) v86 yields to the event loop. In
 * a browser it does so by default through a timer worker of its own: a message to that worker and
 * one back, so each slice waits for another thread to be scheduled. When the page's URL - for a
 * worker, the worker script's - contains "use-scheduling-api" and `scheduler.postTask` exists
 * (Chromium), v86 posts the next slice as a task on its own thread instead (libv86's yield). In
 * Chromium on the 2-core VM this made churn's page and CLI-path runs in workers about a tenth faster
 * alike (docs/web-speed.md). Browsers without postTask keep the timer worker.
 */
export const V86_WORKER_QUERY = "use-scheduling-api";

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
