import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Finds proto/medley.proto whether we run from sources (tsx/vitest) or from dist/. */
function protoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = resolve(dir, 'proto', 'medley.proto');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('proto/medley.proto not found next to the Medley installation; reinstall the package');
}

let cached: grpc.GrpcObject | undefined;

export function loadMedleyProto(): grpc.GrpcObject {
  if (cached) return cached;
  const definition = protoLoader.loadSync(protoPath(), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = grpc.loadPackageDefinition(definition);
  return cached;
}

interface MedleyPackage {
  Federation: grpc.ServiceClientConstructor;
  Admin: grpc.ServiceClientConstructor;
}

export function medleyPackage(): MedleyPackage {
  const root = loadMedleyProto() as unknown as { medley: { v1: MedleyPackage } };
  return root.medley.v1;
}

/**
 * Channel options shared by both ends. Large HTTP/2 windows let one stream fill loopback or a LAN
 * link; message limits are generous because a chunk is at most a few MiB.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc-node.flow_control_window': 16 * 1024 * 1024,
};

/** Default size of one data chunk on the wire. */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * Response metadata key the coordinator sends on UploadUpdate once the upload has a slot: the agent
 * sends its header, waits for it, then streams the chunks. Uploads waiting in line therefore hold
 * no HTTP/2 window of data at the coordinator.
 */
export const UPLOAD_GO_METADATA = 'x-medley-upload';

/** Resolves when the coordinator gives an upload its go-ahead; rejects when the call ends first. */
export function uploadGoAhead(call: grpc.ClientWritableStream<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      call.off('metadata', onMetadata);
      call.off('status', onStatus);
      call.off('error', onError);
    };
    const onMetadata = (metadata: grpc.Metadata) => {
      if (metadata.get(UPLOAD_GO_METADATA).length === 0) return;
      cleanup();
      resolve();
    };
    const onStatus = (status: grpc.StatusObject) => {
      cleanup();
      reject(Object.assign(new Error(status.details), { code: status.code, details: status.details }));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    call.on('metadata', onMetadata);
    call.on('status', onStatus);
    call.on('error', onError);
  });
}
