// The buddy86 package root: the allocator and the hypercall ABI; the machine layers add to it.
export * from "./mem/index.js";
export * as abi from "./protocol/abi.js";
