// The messages between the page (main thread, remote-run.ts) and the guest's worker (worker.ts). The
// guest runs in a dedicated worker so that drawing never takes time from it: the page asks for one
// "frame" packet per display frame (flow control: one request in flight), and the worker answers with
// what changed - a copy of the allocator's state bytes, buddyinfo, new timeline samples, event and
// console lines. Data only: both sides import these types.

import type { BootReport } from "../cli/report.js";
import type { TimelineDelta } from "../observe/timeline.js";
import type { OwnerRecord } from "./inspector.js";
import type { RunSettings, RunState } from "./live-run.js";
import type { OwnerTable, ReservedSpan } from "./model.js";

/** The allocator's fixed geometry, sent once after MEMMAP. */
export interface Geometry {
  maxOrder: number;
  basePfn: number;
  frameCount: number;
  zoneLo: number[];
  zoneHi: number[];
  zoneManaged: number[];
  ramPfns: number;
  reserved: ReservedSpan[];
}

/** One line of the event log, formatted in the worker. */
export interface EventLine {
  kind: string;
  text: string;
  pfn: number;
  /** The owner or EIP symbol that ends `text` ("" when none): kept whole when a line is cut. */
  where: string;
}

export type ToWorker =
  | { type: "start"; settings: RunSettings }
  /**
   * The CLI's code path, for the speed check: `buddy86 boot` (no observer), or with `observed` as
   * `buddy86 boot --owners` observes a run (src/observe's ObserveSession with page owners).
   */
  | { type: "cli-run"; settings: RunSettings; observed: boolean }
  /**
   * The page's warm-up when it opens (page.ts): a run nobody sees, so that the first run the user
   * starts finds v86.wasm optimised and the guest's hot code compiled. A start stops it.
   */
  | { type: "warm"; settings: RunSettings }
  | { type: "pause" }
  | { type: "resume" }
  | { type: "step"; n: number }
  | { type: "stop" }
  | { type: "speed"; callsPerFrame: number }
  /**
   * Asks for the next packet; with `ownerIds`, it also carries the owner of every live allocation
   * (owner colouring) when the state changed since the last table sent (the page keeps that one). A
   * throttled run also gets its next calls on this message. `recycle`: the buffer of a state-byte
   * copy the page has replaced, transferred back for the worker to fill again (a fresh buffer per
   * packet costs a page fault per 4 KiB: 100 us at 128 MiB).
   */
  | { type: "frame"; ownerIds: boolean; recycle?: ArrayBuffer }
  | { type: "inspect"; id: number; pfn: number };

export interface FramePacket {
  type: "packet";
  state: RunState;
  calls: number;
  /** The call the state bytes hold after (-1 before any call). */
  seq: number;
  freeFrames: number;
  lastMark: { seq: number; label: string } | null;
  /** Present once, in the first packet after MEMMAP. */
  geometry?: Geometry;
  /** A copy of the state bytes, when they may have changed since the last packet. */
  meta?: Uint8Array;
  /** When its text changed since the last packet that had one (the page keeps the last). */
  buddyinfo?: { text: string; zones: { name: string; freeBlocks: number[] }[] };
  /**
   * The timeline's samples the page lacks (TimelineFeed): how often to thin its copy, then the samples
   * taken since the last packet that had samples. Cloning only new rows keeps the
   * worker's cost per packet small whatever the run's length.
   */
  samples?: TimelineDelta;
  events?: { total: number; lines: EventLine[] };
  /** Console lines that arrived since the last packet. */
  console?: string[];
  /** Owner colouring: names, and per frame (index from basePfn) the name's index or -1. */
  ownerIds?: OwnerTable;
}

/** The worker's time spent building packets during one run (time taken from the guest). */
export interface PacketStats {
  packets: number;
  /** The worker's milliseconds building them. */
  ms: number;
  /** Packets that carried a copy of the state bytes, and those whose copy went into a buffer the page gave back. */
  stateCopies: number;
  recycled: number;
}

export type FromWorker =
  | FramePacket
  | {
      type: "ended";
      report: BootReport;
      /** The end-of-run reports as `buddy86 boot` prints them (reports, counters, owners, leaks). */
      reportsText: string;
      finalPacket: FramePacket;
      /** What answering the page cost the guest's thread: packets built and milliseconds spent. */
      packetStats: PacketStats;
      /** Writes to freed pages that poison found (0 without poison): `buddy86 boot --poison` exits 4 then. */
      poisonViolations: number;
    }
  | { type: "cli-result"; report: BootReport }
  /**
   * The warm-up ended: how (a run's end reason, "skipped" when a run came first, "error" when it
   * failed, with the message), its calls and its milliseconds. Never a plain "error": that would be
   * taken for the error of a run the page has started meanwhile.
   */
  | { type: "warmed"; reason: string; calls: number; ms: number; message?: string }
  | { type: "inspect-result"; id: number; owner: OwnerRecord | null; history: string[] }
  | { type: "error"; message: string };
