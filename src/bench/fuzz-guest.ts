// One generated guest of the port fuzzer (fuzz.ts): a HypercallBridge over a plain RAM array and an
// Int32Array of registers, driven call by call and judged against the model (fuzz-model.ts). call()
// sets the registers and checks what the ABI promises of every call; modelCall() and judge() check
// the answer the model predicts; fullCheck() walks the allocator. Boot is in fuzz-boot.ts.

import { HypercallBridge, type BridgeObserver } from "../machine/bridge.js";
import { FRAME_ALLOC, FRAME_CONTIG_HEAD, PAGE_SIZE, type BuddyAllocator } from "../mem/index.js";
import type { PoisonChecker } from "../debug/poison.js";
import { ARRAY, C, HOLE_END, INFO, LABEL, MiB, type Config, type Op } from "./fuzz-arbitraries.js";
import { EFAULT, EINVAL, EITHER, ENOMEM, ENOSYS, ESTATE, EVERSION, HeldModel, OK, expectedMark, gfpOk, insideRam } from "./fuzz-model.js";

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;

export interface FuzzResult {
  seed: number;
  runs: number;
  calls: number;
  records: number;
  fullChecks: number;
  poisonReports: number;
  statuses: number[];
  ms: number;
}

export class FuzzFailure extends Error {}

/** Collects the BATCH records of the call in progress exactly as the host ran them. */
class RecordLog implements BridgeObserver {
  count = 0;
  readonly cmd = new Uint32Array(4096);
  readonly arg0 = new Uint32Array(4096);
  readonly arg1 = new Uint32Array(4096);
  readonly result = new Uint32Array(4096);
  readonly status = new Uint32Array(4096);
  onRecord(_seq: number, i: number, cmd: number, arg0: number, arg1: number, result: number, status: number): void {
    this.cmd[i] = cmd;
    this.arg0[i] = arg0;
    this.arg1[i] = arg1;
    this.result[i] = result;
    this.status[i] = status;
    this.count = i + 1;
  }
  onCall(): void {}
}

/**
 * Guest RAM for one run, all zeros. Arrays are reused: the 16 and 24 MiB ones are cleared; the
 * 904 MiB one (clearing it, or allocating a fresh one, would cost more than its run) has only what
 * the last run wrote cleared: low memory, and the ranges its guest recorded in `touched`.
 */
const ramPool = new Map<number, { ram: Uint8Array; touched: number[] }>();
function freshRam(bytes: number): { ram: Uint8Array; touched: number[] } {
  let entry = ramPool.get(bytes);
  if (entry === undefined) {
    entry = { ram: new Uint8Array(bytes), touched: [] };
    ramPool.set(bytes, entry);
  } else if (bytes <= 64 * MiB) entry.ram.fill(0);
  else {
    entry.ram.fill(0, 0, HOLE_END);
    for (let i = 0; i < entry.touched.length; i += 2) entry.ram.fill(0, entry.touched[i]!, entry.touched[i]! + entry.touched[i + 1]!);
    entry.touched.length = 0;
  }
  return entry;
}

export class Guest {
  readonly ram: Uint8Array;
  readonly dv: DataView;
  readonly reg32 = new Int32Array(8);
  private readonly kept = new Int32Array(6);
  readonly bridge: HypercallBridge;
  readonly ramBytes: number;
  readonly recordLog = new RecordLog();
  /** [addr, bytes] pairs written outside low memory, cleared before the RAM array is reused. */
  readonly touched: number[];
  model: HeldModel | null = null;
  poison: PoisonChecker | null = null;
  /** Frames freed since their last allocation whose poison the fuzzer overwrote. */
  dirty: Uint8Array | null = null;
  armed: Uint8Array | null = null;
  expectedReports = 0;
  calls = 0;
  records = 0;
  rejections = 0;
  injectedThisCall = 0;
  exited = false;
  private rng: number;
  readonly reservations: [number, number][] = [];
  private step = 0;

  constructor(
    readonly cfg: Config,
    readonly fullCheckEvery: number,
    readonly totals: FuzzResult,
  ) {
    this.ramBytes = cfg.ramSel === 10 ? 904 * MiB : cfg.ramSel >= 8 ? 24 * MiB : 16 * MiB;
    const pooled = freshRam(this.ramBytes);
    this.ram = pooled.ram;
    this.touched = pooled.touched;
    this.dv = new DataView(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength);
    this.rng = cfg.rngSeed >>> 0 || 1;
    this.bridge = new HypercallBridge({
      ram: this.ram,
      reg32: this.reg32,
      maxOrder: cfg.maxOrder,
      pcp: cfg.pcpSel === 0 ? false : cfg.pcpSel === 1 ? { high: 378, batch: 63 } : { high: 8, batch: 2 },
      observer: cfg.recordObserver ? this.recordLog : null,
    });
  }

  rand(): number {
    let s = this.rng;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (this.rng = s >>> 0);
  }

  fail(what: string): never {
    throw new FuzzFailure(`call ${this.calls} (step ${this.step}): ${what}`);
  }

  // ---- the call stream ----

  run(ops: readonly Op[]): void {
    for (const o of ops) {
      this.step++;
      this.one(o);
      if (this.exited) return;
      if (this.calls % this.fullCheckEvery === 0) this.fullCheck();
    }
    this.fullCheck();
    // EXIT ends every guest: later calls answer ESTATE and are not counted.
    this.expect(C.EXIT, this.rand(), 0, 0, OK);
    const before = this.bridge.counters.totalCalls();
    const r = this.call(C.ALLOC_PAGES, 0, 0, 0);
    if (r.status !== ESTATE || r.result !== 0 || this.bridge.counters.totalCalls() !== before) this.fail("a call after EXIT was served or counted");
  }

  private heldAddr(t: { pick: number; how: number; raw: number }): number {
    const heads = this.model!.heads;
    if (t.how >= 8 || heads.length === 0) return t.how === 9 ? (t.raw % this.ramBytes) & ~0xfff : t.raw;
    const head = heads[t.pick % heads.length]! * PAGE_SIZE;
    return t.how === 6 ? head + PAGE_SIZE : t.how === 7 ? head + 1 + (t.raw % 4095) : head;
  }

  private one(o: Op): void {
    const m = this.model!;
    switch (o.k) {
      case "alloc":
        return this.modelCall(C.ALLOC_PAGES, o.order, o.gfp, this.rand());
      case "free": {
        const addr = this.heldAddr(o.target);
        const head = m.owner[Math.floor(addr / PAGE_SIZE)] ?? -1;
        const ord = o.matchOrder > 0 && head >= 0 && m.order[head]! >= 0 ? m.order[head]! : o.order;
        return this.modelCall(C.FREE_PAGES, addr, ord, this.rand());
      }
      case "allocContig":
        return this.modelCall(C.ALLOC_CONTIG, o.npages, o.align, o.gfp);
      case "freeContig": {
        const addr = this.heldAddr(o.target);
        const head = m.owner[Math.floor(addr / PAGE_SIZE)] ?? -1;
        return this.modelCall(C.FREE_CONTIG, addr, o.matchSize && head >= 0 ? m.pages[head]! : o.npages, this.rand());
      }
      case "stat":
        return this.modelCall(C.STAT, o.item, o.arg, this.rand());
      case "raw":
        return this.modelCall(o.eax === C.EXIT ? C.STAT : o.eax, o.ebx, o.ecx, o.esi);
      case "hello":
        return this.modelCall(C.HELLO, o.version, this.rand(), this.rand());
      case "late":
        return this.modelCall(o.cmd, o.a, o.b, o.c);
      case "mark": {
        const addr = [LABEL, LABEL + 100, this.ramBytes - 10, 0x9ffd0, o.raw, 0xbfff0][o.addrSel]! >>> 0;
        if (o.addrSel < 4 && addr + o.bytes.length <= this.ramBytes) this.write(addr, o.bytes);
        return this.modelCall(C.MARK, addr, this.rand(), this.rand());
      }
      case "batch":
        return this.batch(o);
      case "narrow":
        return this.narrow(o.kind);
      case "scribble":
        return this.scribble(o.nearHeld && m.heads.length > 0 ? m.heads[o.addr % m.heads.length]! * PAGE_SIZE + (o.addr % (2 * PAGE_SIZE)) : o.addr % this.ramBytes, o.bytes);
    }
  }

  private scribble(addr: number, bytes: Uint8Array): void {
    if (addr >= this.ramBytes) return;
    const end = Math.min(this.ramBytes, addr + bytes.length);
    // Keep the BATCH array and the multiboot area intact: they are the fuzzer's own, not the guest's.
    if (addr < LABEL + 0x10000 && end > INFO) return;
    this.write(addr, bytes.subarray(0, end - addr));
  }

  /** A guest write to RAM: into freed (poisoned) frames, a use after free poison must report. */
  private write(addr: number, bytes: Uint8Array): void {
    this.ram.set(bytes, addr);
    this.touched.push(addr, bytes.length);
    this.wrote(addr, bytes.length);
  }

  private narrow(kind: number): void {
    const h = this.bridge.portHandlers;
    const before = this.bridge.counters.protocolErrors;
    const seq = this.bridge.seq;
    if (kind === 0 && h.read8() !== 0xff) this.fail("8-bit read did not return 0xff");
    if (kind === 1 && h.read16() !== 0xffff) this.fail("16-bit read did not return 0xffff");
    if (kind === 2) h.write8(this.rand() & 0xff);
    if (kind === 3) h.write16(this.rand() & 0xffff);
    if (kind === 4) h.write32(this.rand());
    if (this.bridge.counters.protocolErrors !== before + 1 || this.bridge.seq !== seq) this.fail("a narrow access was not counted as one protocol error");
  }

  private batch(o: Extract<Op, { k: "batch" }>): void {
    const n = o.records.length;
    const dv = this.dv;
    for (let i = 0; i < n; i++) {
      const r = o.records[i]!;
      const p = ARRAY + 16 * i;
      let arg0 = r.arg0;
      let arg1 = r.arg1;
      if (r.cmd === C.FREE_PAGES) {
        arg0 = this.heldAddr(r.target);
        const head = this.model!.owner[Math.floor(arg0 / PAGE_SIZE)] ?? -1;
        if (r.matchOrder && head >= 0 && this.model!.order[head]! >= 0) arg1 = this.model!.order[head]!;
        else arg1 = r.arg0;
      }
      dv.setUint16(p, r.cmd, true);
      dv.setUint16(p + 2, 0xeeee, true);
      dv.setUint32(p + 4, arg0 >>> 0, true);
      dv.setUint32(p + 8, arg1 >>> 0, true);
      dv.setUint32(p + 12, 0xdeadbeef, true);
    }
    const count = [n, n, n, n, 0, 4097, o.raw, Math.max(1, n - 1)][o.countSel]! >>> 0;
    const addr = [ARRAY, ARRAY, ARRAY, ARRAY, this.ramBytes - 8, 0xa0000 - 16 * n + 16, o.raw, 0xbfff0][o.addrSel]! >>> 0;
    if (count === 0 || count > 4096) return this.expect(C.BATCH, addr, count, 0, EINVAL);
    if (!insideRam(addr, count * 16, this.ramBytes)) return this.expect(C.BATCH, addr, count, 0, EFAULT);
    const copy = addr === ARRAY ? this.ram.slice(ARRAY, ARRAY + 16 * count) : null;
    this.batchCall(addr, count, this.rand());
    if (copy === null) return;
    // The records lie in reserved memory: only their status and result fields may have changed, to
    // exactly what the host reported for them.
    const cdv = new DataView(copy.buffer);
    const log = this.recordLog;
    for (let i = 0; i < count; i++) {
      const p = 16 * i;
      if (dv.getUint16(ARRAY + p, true) !== cdv.getUint16(p, true) || dv.getUint32(ARRAY + p + 4, true) !== cdv.getUint32(p + 4, true) || dv.getUint32(ARRAY + p + 8, true) !== cdv.getUint32(p + 8, true))
        this.fail(`BATCH record ${i}: the host changed a field other than status and result`);
      if (log.cmd[i] !== cdv.getUint16(p, true) || log.arg0[i] !== cdv.getUint32(p + 4, true) || log.arg1[i] !== cdv.getUint32(p + 8, true))
        this.fail(`BATCH record ${i}: the host ran other arguments than the record holds`);
      if (dv.getUint16(ARRAY + p + 2, true) !== log.status[i] || dv.getUint32(ARRAY + p + 12, true) !== log.result[i])
        this.fail(`BATCH record ${i}: status/result in memory differ from what the host ran`);
    }
  }

  /** A BATCH with a valid count and array: OK, and every record judged as the host ran it. */
  private batchCall(addr: number, count: number, a2: number): void {
    const log = this.recordLog;
    log.count = 0;
    // Without the record observer, only records in the fuzzer's reserved array can be judged (they
    // are read back from RAM); a BATCH elsewhere would run records nobody can follow.
    const observed = this.cfg.recordObserver;
    if (!observed && addr !== ARRAY) return this.modelCall(C.STAT, 0, 0, 0);
    const copy = observed ? null : this.ram.slice(addr, addr + 16 * count);
    this.touched.push(addr, count * 16);
    const r = this.call(C.BATCH, addr, count, a2);
    if (copy !== null) {
      const cdv = new DataView(copy.buffer);
      for (let i = 0; i < count; i++) {
        log.onRecord(0, i, cdv.getUint16(16 * i, true), cdv.getUint32(16 * i + 4, true), cdv.getUint32(16 * i + 8, true), this.dv.getUint32(addr + 16 * i + 12, true), this.dv.getUint16(addr + 16 * i + 2, true));
      }
    }
    if (r.status !== OK) this.fail(`BATCH(0x${addr.toString(16)}, ${count}): status ${r.status}, expected OK`);
    if (log.count !== count) this.fail(`BATCH of ${count} records ran ${log.count}`);
    let ok = 0;
    for (let i = 0; i < count; i++) {
      const cmd = log.cmd[i]!;
      const a0 = log.arg0[i]!;
      const a1 = log.arg1[i]!;
      const known = cmd === C.ALLOC_PAGES || cmd === C.FREE_PAGES || cmd === C.STAT;
      const want = known ? this.predict(cmd, a0, a1, 0) : EINVAL;
      this.judge(cmd, a0, a1, 0, want, log.status[i]!, log.result[i]!, `BATCH record ${i}`);
      if (log.status[i] === OK) ok++;
      // The host wrote this record's status and result: into freed (poisoned) memory, that is a
      // use after free the guest committed through the host.
      this.wrote(addr + 16 * i + 2, 2);
      this.wrote(addr + 16 * i + 12, 4);
    }
    this.records += count;
    if (r.result !== ok) this.fail(`BATCH answered ${r.result} records OK, the records say ${ok}`);
    if (this.poison !== null && this.poison.violationCount !== this.expectedReports)
      this.fail(`BATCH of ${count} records: poison reported ${this.poison.violationCount} use-after-frees, the fuzzer made ${this.expectedReports}`);
    this.afterCall(C.BATCH, OK, count);
  }

  private wrote(addr: number, bytes: number): void {
    if (this.dirty === null || bytes === 0) return;
    for (let f = Math.floor(addr / PAGE_SIZE); f * PAGE_SIZE < addr + bytes; f++) if (this.armed![f]) this.dirty[f] = 1;
  }

  /** One call whose expected status comes from the model; checks it fully. */
  private modelCall(cmd: number, a0: number, a1: number, a2: number): void {
    const want = this.predict(cmd, a0, a1, a2);
    if (cmd === C.BATCH && want === EITHER) return this.batchCall(a0, a1, a2);
    const snapshot = want !== EITHER && want !== OK ? this.sampleArrays() : -1;
    const r = this.call(cmd, a0, a1, a2);
    this.judge(cmd, a0, a1, a2, want, r.status, r.result, "");
    if (snapshot >= 0 && snapshot !== this.fingerprint()) this.fail(`cmd 0x${cmd.toString(16)} rejected with ${r.status} but the allocator changed`);
    this.afterCall(cmd, r.status, 0);
  }

  /** The status the model expects; EITHER where the allocator chooses between OK and ENOMEM. */
  private predict(cmd: number, a0: number, a1: number, a2: number): number {
    const m = this.model!;
    const a = this.bridge.allocator!;
    switch (cmd) {
      case C.HELLO:
        return a0 === 1 ? OK : EVERSION;
      case C.MEMMAP:
      case C.RESERVE:
        return ESTATE;
      case C.ALLOC_PAGES:
        return a0 > this.cfg.maxOrder || !gfpOk(a1) ? EINVAL : EITHER;
      case C.FREE_PAGES:
        return m.freePages(a0, a1);
      case C.ALLOC_CONTIG: {
        const align = a1 === 0 ? 1 : a1;
        return a0 === 0 || (align & (align - 1)) !== 0 || !gfpOk(a2) ? EINVAL : EITHER;
      }
      case C.FREE_CONTIG:
        return m.freeContig(a0, a1);
      case C.STAT:
        return a0 <= 2 || a0 === 4 || (a0 === 3 && a1 <= a.maxOrder) ? OK : EINVAL;
      case C.MARK:
        return expectedMark(this.ram, a0);
      case C.BATCH:
        return a1 === 0 || a1 > 4096 ? EINVAL : insideRam(a0, a1 * 16, this.ramBytes) ? EITHER : EFAULT;
      default:
        return ENOSYS;
    }
  }

  /** Checks one answer (of a call or a BATCH record) and updates the model. */
  private judge(cmd: number, a0: number, a1: number, a2: number, want: number, status: number, result: number, where: string): void {
    const m = this.model!;
    const a = this.bridge.allocator!;
    // The description is built only on failure: this runs for every call.
    const what = (): string =>
      `${where}${where ? " " : ""}cmd 0x${cmd.toString(16)}(0x${a0.toString(16)}, 0x${a1.toString(16)}, 0x${a2.toString(16)}) -> status ${status}, result 0x${result.toString(16)}`;
    if (!(status >= 0 && status <= 9)) this.fail(`${what()}: status out of range`);
    if (status !== OK && cmd !== C.HELLO && result !== 0) this.fail(`${what()}: EAX is not 0 on failure`);
    if (want === EITHER ? status !== OK && status !== ENOMEM : status !== want) this.fail(`${what()}: the model expects status ${want}`);
    if (status === ENOMEM && this.injectedThisCall === 0) {
      const fits = cmd === C.ALLOC_PAGES ? m.contigFits(1 << a0, 1 << a0, a1) : m.contigFits(a0, a1 === 0 ? 1 : a1, a2);
      if (fits) this.fail(`${what()}: ENOMEM although the model has room`);
    }
    if (status !== OK) return;
    if (cmd === C.ALLOC_PAGES || cmd === C.ALLOC_CONTIG) {
      const pages = cmd === C.ALLOC_PAGES ? 1 << a0 : a0;
      const align = cmd === C.ALLOC_PAGES ? pages : a1 === 0 ? 1 : a1;
      const pfn = result / PAGE_SIZE;
      if (this.dirty !== null) {
        let dirty = false;
        for (let f = pfn; f < pfn + pages; f++) {
          if (this.dirty[f]) dirty = true;
          this.dirty[f] = 0;
          this.armed![f] = 0;
        }
        if (dirty) this.expectedReports++;
        // A BATCH's records are judged after all of them ran: its count is compared at its end.
        if (where === "" && this.poison!.violationCount !== this.expectedReports) {
          const last = this.poison!.violations[this.poison!.violations.length - 1];
          this.fail(`${what()}: poison reported ${this.poison!.violationCount} use-after-frees, the fuzzer made ${this.expectedReports}; last report:\n${last?.message ?? "none"}`);
        }
      }
      const complaint = m.take(result, pages, cmd === C.ALLOC_PAGES ? a0 : -1, cmd === C.ALLOC_PAGES ? a1 : a2, align);
      if (complaint !== null) this.fail(`${what()}: ${complaint}`);
    } else if (cmd === C.FREE_PAGES || cmd === C.FREE_CONTIG) {
      const pfn = a0 / PAGE_SIZE;
      if (this.armed !== null) this.armed.fill(1, pfn, pfn + m.pages[pfn]!);
      m.release(pfn);
    } else if (cmd === C.STAT) {
      // Item 3 (free blocks of an order) has no model; it is compared for calls, not for BATCH
      // records, whose later records have changed the lists by the time they are judged.
      const expected = [a.managedPageCount - m.heldFrames, m.managedCount(), this.cfg.maxOrder, where === "" ? a.freeBlockCount(a1) : result, a.zoneCount][a0];
      if (result !== expected) this.fail(`${what()}: STAT item ${a0} should be ${expected}`);
    } else if (cmd === C.HELLO && result !== 1) this.fail(`${what()}: HELLO must return 1`);
  }

  private afterCall(cmd: number, status: number, records: number): void {
    const a = this.bridge.allocator!;
    const m = this.model!;
    if (a.freePageCount !== a.managedPageCount - m.heldFrames) this.fail(`after cmd 0x${cmd.toString(16)}: ${a.freePageCount} free frames, the model says ${a.managedPageCount - m.heldFrames}`);
    this.totals.statuses[status]!++;
    this.totals.records += records;
  }

  /** Sets the registers (garbage in the ones the ABI must not touch), enters the port, checks them. */
  call(cmd: number, a0: number, a1: number, a2: number): { result: number; status: number } {
    const regs = this.reg32;
    regs[EAX] = cmd;
    regs[EBX] = a0;
    regs[ECX] = a1;
    regs[ESI] = a2;
    regs[EDX] = this.rand();
    regs[EDI] = this.rand();
    regs[EBP] = this.rand();
    regs[ESP] = this.rand();
    const kept = this.kept;
    kept[0] = regs[ECX]!;
    kept[1] = regs[EDX]!;
    kept[2] = regs[ESP]!;
    kept[3] = regs[EBP]!;
    kept[4] = regs[ESI]!;
    kept[5] = regs[EDI]!;
    const counted = this.bridge.counters.totalCalls();
    const statuses = sum(this.bridge.counters.statuses);
    this.injectedThisCall = 0;
    const result = this.bridge.portRead32() >>> 0;
    const status = regs[EBX]!;
    this.calls++;
    this.totals.calls++;
    if (regs[ECX] !== kept[0] || regs[EDX] !== kept[1] || regs[ESP] !== kept[2] || regs[EBP] !== kept[3] || regs[ESI] !== kept[4] || regs[EDI] !== kept[5]) this.fail(`cmd 0x${cmd.toString(16)} changed a register other than EAX and EBX`);
    if (this.bridge.state === "failed") this.fail(`host error: ${this.bridge.fatalError?.message}`);
    if (!this.exited && this.bridge.counters.totalCalls() !== counted + 1) this.fail(`cmd 0x${cmd.toString(16)} was not counted once`);
    if (cmd !== C.BATCH && !this.exited && sum(this.bridge.counters.statuses) !== statuses + 1) this.fail(`cmd 0x${cmd.toString(16)}: its status was not counted once`);
    if (cmd === C.EXIT) this.exited = true;
    return { result, status };
  }

  /** A call whose status is known (boot, limits): checks status, EAX and that a rejection changed nothing. */
  expect(cmd: number, a0: number, a1: number, a2: number, want: number): void {
    const before = want === OK ? -1 : this.sampleArrays();
    const r = this.call(cmd, a0, a1, a2);
    if (r.status !== want) this.fail(`cmd 0x${cmd.toString(16)}(0x${a0.toString(16)}, 0x${a1.toString(16)}, 0x${a2.toString(16)}): status ${r.status}, expected ${want}`);
    if (want !== OK && cmd !== C.HELLO && r.result !== 0) this.fail(`cmd 0x${cmd.toString(16)}: EAX ${r.result} on failure`);
    if (before >= 0 && before !== this.fingerprint()) this.fail(`cmd 0x${cmd.toString(16)} rejected with ${want} but changed the allocator or the reservations`);
    this.totals.statuses[r.status]!++;
  }

  /**
   * fingerprint() for every 4th rejected call (every 64th with big RAM, whose metadata is large),
   * else -1: byte-for-byte "changed nothing" is sampled; the free count and the model are checked
   * after every call anyway.
   */
  private sampleArrays(): number {
    return ++this.rejections % (this.ramBytes <= 24 * MiB ? 4 : 64) === 0 ? this.fingerprint() : -1;
  }

  /** A hash of every allocator array and of the bridge's reservations and state (no allocation). */
  private fingerprint(): number {
    let h = 0x811c9dc5 ^ this.bridge.reservations.length ^ (this.bridge.state === "boot" ? 0 : 0x100);
    const a = this.bridge.allocator;
    if (a === null) return h >>> 0;
    for (const x of [a.link, a.freeHead, a.nrFree, a.orderMask, a.pcpHead, a.pcpTail, a.pcpCount, a.pcpDrainIndex]) {
      for (let i = 0; i < x.length; i++) h = Math.imul(h ^ x[i]!, 0x01000193);
    }
    const meta = a.meta;
    for (let i = 0; i < meta.length; i++) h = Math.imul(h ^ meta[i]!, 0x01000193);
    return h >>> 0;
  }

  /** checkInvariants() and frame-by-frame agreement of the allocator with the model. */
  fullCheck(): void {
    const a = this.bridge.allocator;
    if (a === null) return;
    this.totals.fullChecks++;
    try {
      a.checkInvariants();
    } catch (e) {
      this.fail((e as Error).message);
    }
    agree(a, this.model!, (msg) => this.fail(msg));
  }
}

function agree(a: BuddyAllocator, m: HeldModel, fail: (msg: string) => never): void {
  const held = new Uint8Array(m.owner.length);
  for (let idx = 0; idx < a.frameCount; idx++) {
    const s = a.stateAt(idx);
    const pfn = idx + a.basePfn;
    if (s === FRAME_ALLOC || s === FRAME_CONTIG_HEAD) {
      const pages = s === FRAME_ALLOC ? 1 << a.orderAt(idx) : a.link[2 * idx + 1]!;
      if (m.owner[pfn] !== pfn || m.pages[pfn] !== pages) fail(`the allocator has a ${pages}-frame block at pfn 0x${pfn.toString(16)} the guest does not hold`);
      held.fill(1, pfn, pfn + pages);
    }
  }
  for (let pfn = 0; pfn < m.owner.length; pfn++) if ((m.owner[pfn]! >= 0) !== (held[pfn] === 1)) fail(`pfn 0x${pfn.toString(16)}: the model and the allocator disagree on whether it is held`);
}

function sum(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}
