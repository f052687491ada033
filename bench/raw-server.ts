import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, CHUNK_BYTES, writeMessage } from '../shared/wire/index.js';
import { rawStreamService } from './lib/raw-stream.js';

/*
 * The server half of the transfer benchmark's baseline, run as its own process like the
 * coordinator: streams N bytes of 1 MiB chunks on Download, counts bytes on Upload. Prints
 * {"event":"listening","address"} on stdout; runs until SIGTERM.
 */

const chunk = Buffer.alloc(CHUNK_BYTES, 7);

function download(call: grpc.ServerWritableStream<{ bytes: number }, unknown>): void {
  (async () => {
    for (let sent = 0; sent < call.request.bytes; sent += CHUNK_BYTES) {
      const n = Math.min(CHUNK_BYTES, call.request.bytes - sent);
      await writeMessage(call, { data: n === CHUNK_BYTES ? chunk : chunk.subarray(0, n) });
    }
    call.end();
  })().catch((err: Error) => call.destroy(err));
}

function upload(call: grpc.ServerReadableStream<{ data: Buffer }, unknown>, callback: grpc.sendUnaryData<{ bytes: number }>): void {
  let bytes = 0;
  call.on('data', (c: { data: Buffer }) => (bytes += c.data.length));
  call.on('end', () => callback(null, { bytes }));
  call.on('error', (err: Error) => callback(err, null));
}

const server = new grpc.Server(CHANNEL_OPTIONS);
server.addService(rawStreamService().service, { download, upload } as grpc.UntypedServiceImplementation);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`raw-server: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ event: 'listening', address: `127.0.0.1:${port}` }) + '\n');
});
process.once('SIGTERM', () => server.forceShutdown());
