import type * as grpc from '@grpc/grpc-js';
import { signBlob, type Identity } from '../../shared/crypto/index.js';
import { CHUNK_BYTES, InvalidUpdateError, ModelNotFoundError, writeMessage, type BlobChunk, type BlobRequest } from '../../shared/wire/index.js';
import type { DistillBlobs } from '../methods/index.js';
import { failStream } from './fail-stream.js';

export interface BlobDownloadDeps {
  federation: string;
  identity: Identity;
  /** Absent when the coordinator runs without a transfer set: every request is refused. */
  blobs: DistillBlobs | undefined;
  /** Throws unless the site has this authenticated session. */
  checkSession: (site: string, sessionId: string) => void;
  onBytes?: (site: string, bytes: number) => void;
}

/**
 * DownloadBlob: a distillation blob (transfer set, aggregated soft labels) by its SHA-256, streamed
 * like a model: a header signed by the coordinator, data chunks from `offset` (resume), a trailer.
 */
export function blobDownload(deps: BlobDownloadDeps): (call: grpc.ServerWritableStream<BlobRequest, BlobChunk>) => Promise<void> {
  return async (call) => {
    const request = call.request;
    try {
      deps.checkSession(request.site, request.sessionId);
      const found = deps.blobs ? await deps.blobs.describe(request.sha256) : undefined;
      if (!found || !deps.blobs) {
        throw new ModelNotFoundError(`this coordinator holds no distillation blob with sha256 ${request.sha256}; it serves the transfer set and aggregates of its distill rounds only`);
      }
      if (!(request.offset >= 0) || request.offset > found.bytes) throw new InvalidUpdateError(`download offset ${request.offset} is outside blob ${request.sha256} (${found.bytes} bytes)`);
      const claim = { federation: deps.federation, kind: found.kind, sha256: request.sha256, totalBytes: found.bytes };
      await writeMessage(call, { header: { ...claim, offset: request.offset, signature: signBlob(deps.identity, claim) } });
      let sent = 0;
      for await (const chunk of deps.blobs.stream(request.sha256, request.offset, CHUNK_BYTES)) {
        if (call.cancelled) return;
        await writeMessage(call, { data: chunk });
        sent += chunk.length;
        deps.onBytes?.(request.site, chunk.length);
      }
      await writeMessage(call, { trailer: { bytes: sent } });
      call.end();
    } catch (err) {
      failStream(call, err);
    }
  };
}
