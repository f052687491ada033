import { toServiceError } from '../../shared/wire/index.js';

/**
 * Ends a server stream with the gRPC status of `err`. grpc-js sends a stream's status when the
 * stream itself emits 'error'; destroying it instead would drop the status and leave the client
 * with a bare reset.
 */
export function failStream(call: NodeJS.EventEmitter & { cancelled?: boolean }, err: unknown): void {
  if (call.cancelled) return;
  const status = toServiceError(err);
  call.emit('error', Object.assign(new Error(status.details), status));
}
