// The pure buddy allocator: no emulator, no Node APIs. Re-exports only.
export * from "./constants.js";
export * from "./errors.js";
export * from "./memory-map.js";
export { BuddyAllocator, type BuddyOptions, type ContigOptions, type ZoneInfo } from "./buddy.js";
export { fanOutListener, type BuddyListener, type FailPredicate, type PcpOptions } from "./hooks.js";
export { type BuddyState, BUDDY_STATE_VERSION } from "./state.js";
export { unusableFreeIndex, unusableFreeIndexRow, fragmentationIndex, formatThousandths } from "./reports.js";
