// Regression: a port misuse (an 8-bit read of the port, not a call) after the guest turned paging on
// had its backtrace walked with the CR0 sampled at the last call, paging off, so the walk read the
// virtual EBP as a physical address and found no frames. The hub reads CR0 for the misuse itself.

import { describe, expect, it } from "vitest";
import { CR0_PG, CR4_PSE } from "../src/observe/index.js";
import { Cmd, Status } from "../src/protocol/abi.js";
import { EBP, FRAME_AREA, observedGuest } from "./observe-fixtures.js";

/** A page directory inside the fake guest's reserved image range, and where the MARK label lies. */
const PD = 0x109000;
const LABEL = 0x10a000;
const KERNEL_VA = 0xc0000000;

describe("a port misuse after paging was turned on", () => {
  it("walks its backtrace through the guest's page tables", () => {
    const o = observedGuest();
    const stacks: number[][] = [];
    o.session.hub.subscribe({
      onEvent: (e) => {
        if (e.kind === "protocol-error") stacks.push(o.session.hub.depot.frames(o.session.hub.currentStack()));
      },
    });
    // A MARK with paging off: the hub samples this call (its MARK event), nobody asks for its stack.
    o.g.dv.setUint8(LABEL, "m".charCodeAt(0));
    expect(o.callAt(0x101100, 0, Cmd.MARK, LABEL).status).toBe(Status.OK);
    // The guest maps 0xc0000000 to physical 0 with one 4 MiB page and turns paging on; its frame
    // pointer is now virtual, with one frame whose return address is 0xc0101234.
    o.g.dv.setUint32(PD + (KERNEL_VA >>> 22) * 4, 0x0 | 0x80 | 0x1, true);
    o.cpu.cr3 = PD;
    o.cpu.cr4 = CR4_PSE;
    o.cpu.cr0 = CR0_PG;
    o.g.dv.setUint32(FRAME_AREA, 0, true);
    o.g.dv.setUint32(FRAME_AREA + 4, 0xc0101234, true);
    o.g.reg32[EBP] = KERNEL_VA + FRAME_AREA;
    o.g.bridge.portNarrowRead(0xff);
    // The EIP is the last call's (a misuse is sampled no further); the frame is found through the tables.
    expect(stacks).toEqual([[0x101100, 0xc0101234]]);
  });
});
