// What the machine needs from its host environment, as one small interface. The machine and the
// bridge import no Node or browser API: Node gets `nodePlatform()` (node-platform.ts), a page gets
// `browserPlatform()` (browser-platform.ts), and a bundle for either only pulls in its own.

export interface Platform {
  /** Where v86's wasm core is: a file path under Node, a URL (relative to the page) in a browser. */
  readonly wasmPath: string;
  /** A monotonic clock in milliseconds with sub-millisecond resolution. */
  now(): number;
  /**
   * Routes exceptions that nobody caught (thrown from a timer or event callback outside v86's
   * guarded main loop) to `handler` while a run lasts, instead of killing the process or being
   * lost. Returns the function that removes the guard.
   */
  guardUncaught(handler: (error: unknown) => void): () => void;
}
