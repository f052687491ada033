import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunksOf, writeMessage } from './stream-io.js';

describe('writeMessage', () => {
  it('waits for drain on a full buffer and leaves no listeners behind', async () => {
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(_chunk, _enc, done) {
        setImmediate(done);
      },
    });
    for (let i = 0; i < 50; i++) await writeMessage(sink, { i });
    expect(sink.listenerCount('close')).toBeLessThanOrEqual(1);
    expect(sink.listenerCount('error')).toBeLessThanOrEqual(1);
    expect(sink.listenerCount('drain')).toBe(0);
  });

  it('fails when the stream is destroyed while waiting', async () => {
    const sink = new Writable({ objectMode: true, highWaterMark: 1, write() {} });
    sink.write(1);
    const pending = writeMessage(sink, 2);
    sink.destroy();
    await expect(pending).rejects.toThrow(/closed before all data was sent/);
  });
});

describe('chunksOf', () => {
  it('splits into views that cover the buffer exactly', () => {
    const bytes = new Uint8Array(10).map((_, i) => i);
    expect([...chunksOf(bytes, 4)].map((b) => [...b])).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });
});
