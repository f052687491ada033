/*
 * Preloaded (`node --expose-gc --import .../gc-on-signal.js`) into the processes the soak
 * benchmark watches: on SIGUSR2 the process runs a full garbage collection and says so on stderr.
 * RSS read right after it is what the process really keeps, without the 10-40 MiB that V8's
 * heap rises and falls by between its own collections, so a slow leak is not lost in that noise.
 * Worker threads import preloads too; only the main thread listens.
 */
import { isMainThread } from 'node:worker_threads';

export const GC_DONE_LINE = '[bench-gc] collected';

const collect = (globalThis as { gc?: () => void }).gc;
if (isMainThread && collect) {
  process.on('SIGUSR2', () => {
    collect();
    // What the process holds live after the collection: V8 heap objects, and memory they own
    // outside the heap (Buffers, ArrayBuffers, WebAssembly memories). RSS also holds what the
    // allocators and V8 keep reserved; the soak reports both.
    const { heapUsed, external, arrayBuffers } = process.memoryUsage();
    const mib = (n: number) => Math.round((n / 1048576) * 1000) / 1000;
    process.stderr.write(`${GC_DONE_LINE} ${JSON.stringify({ heapUsed: mib(heapUsed), external: mib(external), arrayBuffers: mib(arrayBuffers) })}\n`);
  });
}
