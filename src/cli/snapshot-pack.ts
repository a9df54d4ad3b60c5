// The snapshot payload's container: a JSON tree whose typed arrays are stored as raw little-endian
// blobs after it (the allocator's and v86's state are mostly typed arrays, which JSON would blow up
// tenfold). Layout: u32 JSON length, the JSON (UTF-8), zero padding to 8, then the blobs, each
// starting on a multiple of 8. In the JSON a typed array is {"$ta": "Int32Array", "o": offset, "n":
// elements}. Plain objects, arrays, strings, numbers, booleans and null round-trip; nothing else.

const TYPED = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
} as const;
type TypedName = keyof typeof TYPED;
type Typed = InstanceType<(typeof TYPED)[TypedName]>;

interface BlobRef {
  $ta: TypedName;
  o: number;
  n: number;
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Packs a tree of plain values and typed arrays into one byte array. */
export function packValue(value: unknown): Uint8Array {
  const blobs: Typed[] = [];
  let offset = 0;
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const name = v.constructor.name as TypedName;
      if (!(name in TYPED)) throw new Error(`packValue: cannot store a ${name}`);
      const t = v as Typed;
      const ref: BlobRef = { $ta: name, o: offset, n: t.length };
      blobs.push(t);
      offset = align8(offset + t.byteLength);
      return ref;
    }
    return v;
  });
  const jsonBytes = new TextEncoder().encode(json);
  const start = align8(4 + jsonBytes.length);
  const out = new Uint8Array(start + offset);
  new DataView(out.buffer).setUint32(0, jsonBytes.length, true);
  out.set(jsonBytes, 4);
  let at = start;
  for (const b of blobs) {
    out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at);
    at = align8(at + b.byteLength);
  }
  return out;
}

/** The tree packValue() packed; typed arrays are fresh copies. Throws on a malformed container. */
export function unpackValue(bytes: Uint8Array): unknown {
  if (bytes.length < 4) throw new Error("unpackValue: no JSON length");
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + jsonLength > bytes.length) throw new Error("unpackValue: the JSON runs past the end");
  const start = align8(4 + jsonLength);
  const json = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(4, 4 + jsonLength));
  return JSON.parse(json, (_key, v: unknown) => {
    if (typeof v === "object" && v !== null && "$ta" in v) {
      const ref = v as BlobRef;
      const ctor = TYPED[ref.$ta];
      if (ctor === undefined || !Number.isInteger(ref.o) || !Number.isInteger(ref.n) || ref.o < 0 || ref.n < 0) throw new Error("unpackValue: a bad array reference");
      const byteLength = ref.n * ctor.BYTES_PER_ELEMENT;
      if (start + ref.o + byteLength > bytes.length) throw new Error("unpackValue: an array runs past the end");
      const copy = new ctor(ref.n);
      new Uint8Array(copy.buffer).set(bytes.subarray(start + ref.o, start + ref.o + byteLength));
      return copy;
    }
    return v;
  });
}
