// The page owner's text reports. Live blocks (and leaks) are grouped by allocation stack, most frames
// first, in the shape of Linux's tools/mm/page_owner_sort output:
//
//   12 times, 48 pages:
//   Page allocated via order 2, mask 0x2(GFP_HIGHMEM), first at call 17 (icount 123456)
//    hc_alloc_pages+0x1c
//    random_run+0x9a
//
// Invalid frees print the offending call's stack, the allocation's and (double free) the first free's.

import { gfpToString } from "../mem/index.js";
import { Cmd, STATUSES, Status, commandName } from "../protocol/abi.js";
import type { OwnerIndex, OwnerTable } from "./page-owner.js";
import type { StackDepot } from "./stack-depot.js";
import type { Symbolizer } from "./symbols.js";

/** Live blocks sharing one allocation stack. */
export interface OwnerGroup {
  stack: number;
  times: number;
  pages: number;
  minOrder: number;
  maxOrder: number;
  /** True when any block of the group came from ALLOC_CONTIG. */
  contig: boolean;
  gfps: number[];
  firstSeq: number;
  firstIcount: number;
}

/** A stack handle's frames as text lines ("function+0xoff"). */
export type StackText = (stack: number) => string[];

/** Groups rows of an allocation table by allocation stack: most frames first, then most blocks. */
export function groupByStack(owner: OwnerTable, rows: readonly number[]): OwnerGroup[] {
  const groups = new Map<number, OwnerGroup>();
  for (const r of rows) {
    const row = owner.row(r);
    const stack = row.allocStack;
    let g = groups.get(stack);
    if (g === undefined) {
      g = { stack, times: 0, pages: 0, minOrder: Infinity, maxOrder: -1, contig: false, gfps: [], firstSeq: row.allocSeq, firstIcount: row.allocIcount };
      groups.set(stack, g);
    }
    // Rows need not come in allocation order (PresentOwner lists them by frame).
    if (row.allocSeq < g.firstSeq) {
      g.firstSeq = row.allocSeq;
      g.firstIcount = row.allocIcount;
    }
    g.times++;
    g.pages += row.npages;
    if (row.order < 0) g.contig = true;
    else {
      g.minOrder = Math.min(g.minOrder, row.order);
      g.maxOrder = Math.max(g.maxOrder, row.order);
    }
    if (!g.gfps.includes(row.gfp)) g.gfps.push(row.gfp);
  }
  return [...groups.values()].sort((a, b) => b.pages - a.pages || b.times - a.times || a.firstSeq - b.firstSeq);
}

function orderText(g: OwnerGroup): string {
  const parts: string[] = [];
  if (g.maxOrder >= 0) parts.push(g.minOrder === g.maxOrder ? `order ${g.minOrder}` : `order ${g.minOrder}..${g.maxOrder}`);
  if (g.contig) parts.push("alloc_contig");
  return parts.join(" and ");
}

export function maskText(gfp: number): string {
  return `0x${gfp.toString(16)}(${gfpToString(gfp)})`;
}

function stackLines(depot: StackDepot, sym: Symbolizer, stack: number): string[] {
  return sym.formatStack(depot, stack).map((f) => ` ${f}`);
}

/** StackText over a live depot and symbolizer. */
export function depotStackText(depot: StackDepot, sym: Symbolizer): StackText {
  return (stack) => sym.formatStack(depot, stack);
}

/** One page_owner_sort block per group. */
export function formatGroups(groups: readonly OwnerGroup[], stackText: StackText): string {
  const out: string[] = [];
  for (const g of groups) {
    out.push(`${g.times} times, ${g.pages} pages:`);
    const masks = g.gfps.map(maskText).join(", ");
    out.push(`Page allocated via ${orderText(g)}, mask ${masks}, first at call ${g.firstSeq} (icount ${g.firstIcount})`);
    for (const f of stackText(g.stack)) out.push(` ${f}`);
    out.push("");
  }
  return out.join("\n");
}

/** Rows (live at some moment), titled and grouped by stack. */
export function formatLiveOwners(table: OwnerTable, rows: readonly number[], stackText: StackText, title: string): string {
  const groups = groupByStack(table, rows);
  const pages = groups.reduce((n, g) => n + g.pages, 0);
  const head = `== page owners ${title}: ${pages} frames live in ${rows.length} blocks, ${groups.length} stacks`;
  return rows.length === 0 ? `${head}\n` : `${head}\n${formatGroups(groups, stackText)}`;
}

/** Rows never freed, grouped as leaks ("" when there are none). */
export function formatLeaks(table: OwnerTable, rows: readonly number[], stackText: StackText): string {
  if (rows.length === 0) return "";
  const groups = groupByStack(table, rows);
  const pages = groups.reduce((n, g) => n + g.pages, 0);
  return `== leaks at EXIT: ${rows.length} blocks, ${pages} frames still allocated\n${formatGroups(groups, stackText)}`;
}

/** Every invalid free kept, with both (or all three) sites ("" when there are none). */
export function formatInvalidFrees(owner: OwnerIndex, sym: Symbolizer): string {
  if (owner.invalidFreeCount === 0) return "";
  const depot = owner.hub.depot;
  const out = [`== invalid frees: ${owner.invalidFreeCount}`];
  for (const f of owner.invalidFrees) {
    const what = `${commandName(f.cmd) ?? f.cmd}(0x${(f.pfn * 4096).toString(16)}, ${f.cmd === Cmd.FREE_PAGES ? `order ${f.size}` : `npages ${f.size}`})`;
    const where = f.record >= 0 ? `call ${f.seq} record ${f.record}` : `call ${f.seq}`;
    out.push(`${statusText(f.status)}: ${what} at ${where} (icount ${f.icount})`);
    out.push(...stackLines(depot, sym, f.stack));
    const r = f.allocation;
    if (r === null) out.push(owner.keepsHistory ? "the frame was never allocated" : "no record of the frame's allocation (never allocated, or replaced by a later block at its head)");
    else {
      const size = r.order >= 0 ? `order ${r.order}` : `npages ${r.npages}`;
      out.push(`allocated as pfn 0x${r.pfn.toString(16)} ${size} at call ${r.allocSeq} (icount ${r.allocIcount}):`);
      out.push(...stackLines(depot, sym, r.allocStack));
      if (r.freeStack >= 0 && r.freeSeq <= f.seq) {
        out.push(`${f.status === Status.EDOUBLEFREE ? "first freed" : "freed"} at call ${r.freeSeq} (icount ${r.freeIcount}):`);
        out.push(...stackLines(depot, sym, r.freeStack));
      }
    }
    out.push("");
  }
  if (owner.invalidFreeCount > owner.invalidFrees.length) out.push(`(${owner.invalidFreeCount - owner.invalidFrees.length} more not kept)`);
  return out.join("\n") + "\n";
}

/** A status code's name ("EDOUBLEFREE"), or its number. */
export function statusText(status: number): string {
  return STATUSES.find((s) => s.code === status)?.name ?? String(status);
}
