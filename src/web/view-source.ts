// What the page's panels draw from, a live run (remote-run.ts) or a trace replay (replay.ts), seen
// the same way: the snapshot of the state bytes, the timeline, buddyinfo, the event lines, a frame's
// owner and history on demand, and the owner colouring of the map. OwnerColouring also counts the
// frames of each owner it coloured, for the legend.

import { zoneStats } from "../observe/snapshot.js";
import { buddyinfoOf } from "../observe/proc-reports.js";
import type { FreeBlockSamples, ZoneBlocks } from "./charts.js";
import { formatEvent, recentLines } from "./event-log.js";
import type { FrameDetails } from "./inspector.js";
import type { OwnerColourOf } from "./map-view.js";
import type { MemorySnapshot, OwnerTable } from "./model.js";
import { ownerColour } from "./palette.js";
import type { RemoteRun } from "./remote-run.js";
import type { TraceReplay } from "./replay.js";
import type { EventLine } from "./worker-protocol.js";

export interface ViewSource {
  snapshot: MemorySnapshot | null;
  samples: FreeBlockSamples | null;
  buddyinfo: { text: string; zones: ZoneBlocks[] } | null;
  events: { total: number; lines: EventLine[] } | null;
  details: (pfn: number) => Promise<FrameDetails>;
  /** The map's owner colours, null when the map is not coloured by owner (or no table came yet). */
  ownerColourOf: OwnerColourOf | null;
  /** The owner table those colours come from: the map is redrawn when another one arrives. */
  ownerTable: OwnerTable | null;
  /** True while the state changes on its own (a running guest, a playing replay). */
  moving: boolean;
  /** A replay's position (the chart's cursor), -1 for a live run. */
  cursorSeq: number;
}

/** The owner colouring of the map, and how many frames of each owner the last drawing coloured. */
export class OwnerColouring {
  /** Frames coloured per owner since clear(): what the legend lists. */
  readonly frames = new Map<string, number>();

  /** Colours from a per-frame owner table (a live run's worker's, or a replay's) whose index 0 is basePfn. */
  of(table: OwnerTable, basePfn: number): OwnerColourOf {
    return (pfn) => {
      const k = table.ids[pfn - basePfn] ?? -1;
      return k < 0 ? -1 : this.count(table.names[k]!);
    };
  }

  clear(): void {
    this.frames.clear();
  }

  private count(name: string): number {
    this.frames.set(name, (this.frames.get(name) ?? 0) + 1);
    return ownerColour(name);
  }
}

/** A live run's panels' data; `owners` null when the map is not coloured by owner. */
export function liveSource(run: RemoteRun, owners: OwnerColouring | null): ViewSource {
  const ids = run.ownerIds;
  return {
    snapshot: run.snapshot,
    samples: run.samples,
    buddyinfo: run.report?.buddyinfo != null ? { text: run.report.buddyinfo, zones: run.buddyinfo?.zones ?? [] } : (run.buddyinfo ?? null),
    events: run.events,
    details: (pfn) => run.inspect(pfn),
    ownerColourOf: ids === null || run.snapshot === null || owners === null ? null : owners.of(ids, run.snapshot.basePfn),
    ownerTable: owners === null ? null : ids,
    moving: run.state === "running" || run.state === "booting",
    cursorSeq: -1,
  };
}

/** A replay's panels' data at its position; `playing`: the page moves it on every frame. */
export function replaySource(replay: TraceReplay, owners: OwnerColouring | null, playing: boolean): ViewSource {
  const zones = zoneStats(replay.snapshot);
  const table = owners === null ? null : replay.ownerIds();
  return {
    snapshot: replay.snapshot,
    samples: replay.model.timeline,
    buddyinfo: { text: buddyinfoOf(zones), zones },
    events: { total: replay.events.total, lines: recentLines(replay.events) },
    details: (pfn) => Promise.resolve({ owner: replay.ownerOf(pfn), history: replay.events.historyOf(pfn).map((e) => formatEvent(e, false)) }),
    ownerColourOf: table === null || owners === null ? null : owners.of(table, replay.snapshot.basePfn),
    ownerTable: table,
    moving: playing,
    cursorSeq: replay.seq,
  };
}
