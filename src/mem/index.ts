// The pure buddy allocator: no emulator, no Node APIs. Re-exports only.
export * from "./constants.js";
export * from "./errors.js";
export * from "./memory-map.js";
export { BuddyAllocator, type BuddyOptions, type ContigOptions, type ZoneInfo } from "./buddy.js";
export {
  type BuddyListener,
  type FailPredicate,
  type PcpOptions,
  FRAME_NONE,
  FRAME_TAIL,
  FRAME_FREE,
  FRAME_PCP,
  FRAME_ALLOC,
  FRAME_CONTIG_HEAD,
  FRAME_CONTIG_TAIL,
} from "./core.js";
export { type BuddyState, BUDDY_STATE_VERSION } from "./state.js";
export { unusableFreeIndex, fragmentationIndex } from "./reports.js";
