// /proc-style reports computed from an allocator snapshot (snapshot.ts), byte for byte in Linux's
// formats where Linux has the file: /proc/buddyinfo, debugfs extfrag/unusable_index and
// extfrag/extfrag_index. /proc/pagetypeinfo has no direct equivalent (buddy86 has no migrate types):
// its "type" rows here say where free frames sit (the buddy lists or the per-CPU lists), and its
// block table counts max-order pageblocks by occupancy (all free, mixed, all allocated).

import { formatThousandths, fragmentationIndex, unusableFreeIndex } from "../mem/index.js";
import { zoneStats, type AllocatorSnapshot, type ZoneStats } from "./snapshot.js";

function zonePrefix(name: string): string {
  return `Node 0, zone ${name.padStart(8)} `;
}

/** /proc/buddyinfo: "Node 0, zone %8s " then "%6lu " per order. */
export function buddyinfoOf(zones: readonly ZoneStats[]): string {
  return zones.map((z) => zonePrefix(z.name) + z.freeBlocks.map((n) => `${String(n).padStart(6)} `).join("") + "\n").join("");
}

/** extfrag/unusable_index. */
export function unusableIndexOf(zones: readonly ZoneStats[]): string {
  return zones
    .map((z) => zonePrefix(z.name) + z.freeBlocks.map((_, o) => formatThousandths(unusableFreeIndex(z.freeBlocks, o), 1)).join("") + "\n")
    .join("");
}

/** extfrag/extfrag_index. */
export function extfragIndexOf(zones: readonly ZoneStats[]): string {
  return zones
    .map((z) => zonePrefix(z.name) + z.freeBlocks.map((_, o) => formatThousandths(fragmentationIndex(z.freeBlocks, o), 2)).join("") + "\n")
    .join("");
}

/** The /proc/pagetypeinfo-like table (see the file comment for what its rows mean). */
export function pagetypeinfoOf(zones: readonly ZoneStats[], maxOrder: number): string {
  const orders = maxOrder + 1;
  const lines = [`Page block order: ${maxOrder}`, `Pages per block:  ${2 ** maxOrder}`, ""];
  // Linux: "%-43s " then "%6d " per order; and "\n%-23s" then "%12s " per type, below.
  let header = "Free pages count per migrate type at order".padEnd(43) + " ";
  for (let o = 0; o < orders; o++) header += `${String(o).padStart(6)} `;
  lines.push(header);
  for (const z of zones) {
    for (const [type, blocks] of [
      ["Buddy", z.freeBlocks],
      ["PerCpu", z.pcpBlocks],
    ] as const) {
      lines.push(`Node ${"0".padStart(4)}, zone ${z.name.padStart(8)}, type ${type.padStart(12)} ` + blocks.map((n) => `${String(n).padStart(6)} `).join(""));
    }
  }
  lines.push("");
  lines.push("Number of blocks type ".padEnd(23) + ["Free", "Mixed", "Allocated"].map((t) => `${t.padStart(12)} `).join(""));
  for (const z of zones) {
    lines.push(`Node 0, zone ${z.name.padStart(8)} ` + [z.blocksFree, z.blocksMixed, z.blocksFull].map((n) => `${String(n).padStart(12)} `).join(""));
  }
  return lines.join("\n") + "\n";
}

/** Every snapshot report, titled, as one text (the end-of-run and on-demand report body). */
export function formatProcReports(snap: AllocatorSnapshot, title: string): string {
  const zones = zoneStats(snap);
  const free = zones.reduce((n, z) => n + z.freeFrames + z.pcpFrames, 0);
  const managed = zones.reduce((n, z) => n + z.managed, 0);
  return [
    `== ${title}: free ${free} of ${managed} managed frames (${zones.reduce((n, z) => n + z.pcpFrames, 0)} on per-CPU lists)`,
    "/proc/buddyinfo:",
    buddyinfoOf(zones) + "/proc/pagetypeinfo:",
    pagetypeinfoOf(zones, snap.maxOrder) + "extfrag/unusable_index:",
    unusableIndexOf(zones) + "extfrag/extfrag_index:",
    extfragIndexOf(zones),
  ].join("\n");
}
