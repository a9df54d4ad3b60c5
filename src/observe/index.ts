// Observability of a run: the typed event stream, page owners, /proc-style reports, traces and pictures.
// No Node API anywhere below: the CLI (src/cli/observe-flags.ts) and a web page wire it the same way.
export * from "./events.js";
export { EventHub } from "./event-hub.js";
export { StackDepot } from "./stack-depot.js";
export { walkStack, StackMemo, translate, codeRanges, readPhys32, ramWords, RamWords, DEFAULT_STACK_DEPTH } from "./stack-walk.js";
export { CR0_PG, CR4_PSE, CR4_PAE } from "./layout.js";
export { Symbolizer, DEFAULT_WRAPPER_PATTERN, hex8 } from "./symbols.js";
export { PageOwner, isInvalidFreeStatus, type InvalidFree, type OwnerIndex, type OwnerRow, type OwnerTable } from "./page-owner.js";
export { PresentOwner } from "./present-owner.js";
export { EventRing, type RingReader } from "./event-ring.js";
export * from "./owner-report.js";
export { RequestLog, allocatorOptions } from "./replay.js";
export * from "./snapshot.js";
export * from "./proc-reports.js";
export * from "./order-counters.js";
export { WarnAlloc, WARN_BURST, WARN_INTERVAL_CALLS } from "./warn-alloc.js";
export { Timeline, type TimelineData, DEFAULT_TIMELINE_CAPACITY } from "./timeline.js";
export * from "./trace.js";
export { readTrace, liveRowsAt, traceLastSeq, traceMomentSeq, type TraceModel, type TraceEvent } from "./trace-read.js";
export * from "./map-render.js";
export { renderFragSvg } from "./frag-render.js";
export * from "./session.js";
