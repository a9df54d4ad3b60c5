// Every error code and every precedence case of the ABI, through both the throwing API and the
// status-returning try* API; a rejected call must change nothing.
import { describe, expect, it } from "vitest";
import { BuddyError, Errno, GFP, PAGE_SIZE, type BuddyAllocator } from "../src/mem/index.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

/** Runs fn and checks that the allocator's whole state is unchanged. */
function unchanged(buddy: BuddyAllocator, fn: () => void): void {
  const before = buddy.getState();
  fn();
  expect(buddy.getState()).toEqual(before);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BuddyError) return e.code;
    throw e;
  }
  return "none";
}

describe("error codes", () => {
  const setup = () => {
    const buddy = makeBuddy(32 * MiB, { maxOrder: 10 }, [[0x100000, 0x40000, "kernel"]]);
    const block = buddy.allocPages(2); // 4 frames
    const contig = buddy.allocContig(3);
    return { buddy, block, contig };
  };

  it("EINVAL: bad order, bad gfp, bad npages, bad alignment", () => {
    const { buddy, block } = setup();
    unchanged(buddy, () => {
      expect(codeOf(() => buddy.allocPages(11))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocPages(-1))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocPages(0.5))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocPages(0, 0x8))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocPages(0, GFP.DMA | GFP.HIGHMEM))).toBe("EINVAL");
      expect(codeOf(() => buddy.freePages(block, 11))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocContig(0))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocContig(4, { alignPages: 3 }))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocContig(4, { boundaryPages: 2 }))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocPagesExact(0))).toBe("EINVAL");
      expect(codeOf(() => buddy.allocPagesExact(1025))).toBe("EINVAL");
      expect(buddy.tryAllocPages(99, 0)).toBe(-Errno.EINVAL);
      expect(buddy.tryAllocContig(1, 6, 0)).toBe(-Errno.EINVAL);
      expect(buddy.tryFreeContig(0x200000, 0)).toBe(Errno.EINVAL);
    });
  });

  it("EFAULT: unaligned, outside RAM, outside managed memory, reserved, frame 0", () => {
    const { buddy, block } = setup();
    unchanged(buddy, () => {
      expect(codeOf(() => buddy.freePages(block + 1, 2))).toBe("EFAULT");
      expect(codeOf(() => buddy.freePages(64 * MiB, 0))).toBe("EFAULT");
      expect(codeOf(() => buddy.freePages(2 ** 32, 0))).toBe("EFAULT");
      expect(codeOf(() => buddy.freePages(-4096, 0))).toBe("EFAULT");
      expect(codeOf(() => buddy.freePages(0x101000, 0))).toBe("EFAULT"); // reserved kernel
      expect(codeOf(() => buddy.freePages(0, 0))).toBe("EFAULT");
      expect(buddy.tryFreeContig(0x101000, 1)).toBe(Errno.EFAULT);
    });
  });

  it("EDOUBLEFREE, ENOTHEAD and EBADORDER from the frame's state", () => {
    const { buddy, block, contig } = setup();
    const freeFrame = buddy.allocPages(0);
    buddy.freePages(freeFrame, 0);
    unchanged(buddy, () => {
      expect(codeOf(() => buddy.freePages(freeFrame, 0))).toBe("EDOUBLEFREE");
      expect(codeOf(() => buddy.freePages(block + 0x1000, 0))).toBe("ENOTHEAD");
      expect(codeOf(() => buddy.freePages(block + 0x3000, 2))).toBe("ENOTHEAD");
      expect(codeOf(() => buddy.freePages(block, 1))).toBe("EBADORDER");
      expect(codeOf(() => buddy.freePages(block, 3))).toBe("EBADORDER");
      // The other allocation family: a contig range freed as pages and a block freed as contig.
      expect(codeOf(() => buddy.freePages(contig, 0))).toBe("EBADORDER");
      expect(codeOf(() => buddy.freeContig(block, 4))).toBe("EBADORDER");
      expect(codeOf(() => buddy.freeContig(contig, 4))).toBe("EBADORDER");
      expect(codeOf(() => buddy.freeContig(contig + 0x1000, 2))).toBe("ENOTHEAD");
      expect(codeOf(() => buddy.freePages(contig + 0x2000, 0))).toBe("ENOTHEAD");
    });
  });

  it("precedence: EINVAL before EFAULT before the frame state", () => {
    const { buddy, block } = setup();
    unchanged(buddy, () => {
      // Bad order and unaligned address: EINVAL wins.
      expect(buddy.tryFreePages(block + 1, 42)).toBe(Errno.EINVAL);
      // Unaligned address of an allocated block with the right order: EFAULT.
      expect(buddy.tryFreePages(block + 8, 2)).toBe(Errno.EFAULT);
      // A frame inside a free block, freed with a mismatching order: the state decides (EDOUBLEFREE),
      // never the alignment for the order.
      const insideFree = 20 * MiB + 0x3000;
      expect(buddy.tryFreePages(insideFree, 5)).toBe(Errno.EDOUBLEFREE);
      // An interior frame freed with an order it would be aligned for: still ENOTHEAD.
      expect(buddy.tryFreePages(block + 0x2000, 1)).toBe(Errno.ENOTHEAD);
      // npages 0 and a bad address on FREE_CONTIG: EINVAL.
      expect(buddy.tryFreeContig(1, 0)).toBe(Errno.EINVAL);
    });
  });

  it("the free fast path's one-test validation takes only an allocated head of exactly that order", () => {
    const { buddy, block, contig } = setup();
    unchanged(buddy, () => {
      // meta ^ ALLOC_TAG is the order for an ALLOC head: a fraction of the right order is no order.
      expect(buddy.tryFreePages(block, 2.5)).toBe(Errno.EINVAL);
      expect(buddy.tryFreePages(block, -2)).toBe(Errno.EINVAL);
      // For a contig head, meta ^ ALLOC_TAG is 32: order 32 must not pass as a match.
      expect(buddy.tryFreePages(contig, 32)).toBe(Errno.EINVAL);
      // An address that is an integer page multiple only after truncation, or above 4 GiB.
      expect(buddy.tryFreePages(block + 0.5, 2)).toBe(Errno.EFAULT);
      expect(buddy.tryFreePages(block + 2 ** 32, 2)).toBe(Errno.EFAULT);
      expect(buddy.tryFreePages(block - 2 ** 32, 2)).toBe(Errno.EFAULT);
    });
    expect(buddy.tryFreePages(block, 2)).toBe(Errno.OK);
    buddy.checkInvariants();
  });

  it("ENOMEM is a return value of 0, not an error", () => {
    const buddy = makeBuddy(4 * MiB, { maxOrder: 10 });
    expect(buddy.allocPages(10)).toBe(0); // frame 0 keeps the only 4 MiB block from being whole
    expect(buddy.allocContig(2000)).toBe(0);
    expect(buddy.allocPagesExact(1000)).toBe(0);
    expect(codeOf(() => buddy.allocPages(10))).toBe("none");
  });

  it("a failing freePagesExact changes nothing", () => {
    const buddy = makeBuddy(32 * MiB);
    const addr = buddy.allocPagesExact(5);
    unchanged(buddy, () => expect(codeOf(() => buddy.freePagesExact(addr, 6))).toBe("EDOUBLEFREE"));
    buddy.freePagesExact(addr, 5);
    buddy.checkInvariants();
  });

  it("freePagesExact keeps the precedence across its range: EFAULT anywhere beats a frame's state", () => {
    // 4 MiB with the frame at 2 MiB reserved: a range of free frames that runs into it.
    const buddy = makeBuddy(4 * MiB, {}, [[2 * MiB, PAGE_SIZE, "hole"]]);
    unchanged(buddy, () => {
      expect(codeOf(() => buddy.freePagesExact(2 * MiB - PAGE_SIZE, 2))).toBe("EFAULT");
      expect(codeOf(() => buddy.freePagesExact(2 * MiB - 2 * PAGE_SIZE, 3))).toBe("EFAULT");
      // Without the reserved frame in range, the state of the first bad frame speaks.
      expect(codeOf(() => buddy.freePagesExact(2 * MiB - 2 * PAGE_SIZE, 2))).toBe("EDOUBLEFREE");
    });
  });
});
