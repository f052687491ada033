import * as grpc from '@grpc/grpc-js';

/**
 * One error class per kind of failure. Each carries the gRPC status it maps to, so the server
 * turns any of them into a status in one place (`toServiceError`) and the client back again.
 * Messages name the input and say what to do.
 */
export abstract class MedleyError extends Error {
  abstract readonly code: grpc.status;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The payload is malformed: wrong shapes, NaN, bad chunk order, checksum mismatch. */
export class InvalidUpdateError extends MedleyError {
  readonly code = grpc.status.INVALID_ARGUMENT;
}

/** A stream ended before all of its bytes or its trailer arrived. */
export class TruncatedStreamError extends MedleyError {
  readonly code = grpc.status.DATA_LOSS;
}

/** The caller is not a site this federation expects. */
export class UnknownSiteError extends MedleyError {
  readonly code = grpc.status.PERMISSION_DENIED;
}

/** A caller that could not prove who it is: bad signature, unknown key, missing admin key. */
export class AuthenticationError extends MedleyError {
  readonly code = grpc.status.UNAUTHENTICATED;
}

/** The update does not belong to an open round for this site (late, duplicate, wrong round). */
export class RoundMismatchError extends MedleyError {
  readonly code = grpc.status.FAILED_PRECONDITION;
}

/** A model version that does not exist or cannot be read. */
export class ModelNotFoundError extends MedleyError {
  readonly code = grpc.status.NOT_FOUND;
}

/** Stored state on disk is unreadable or inconsistent. */
export class StateCorruptError extends MedleyError {
  readonly code = grpc.status.INTERNAL;
}

/** A request that cannot be served now (a run is already going, too few sites). */
export class BusyError extends MedleyError {
  readonly code = grpc.status.UNAVAILABLE;
}

/** A bad configuration file or flag. */
export class ConfigError extends MedleyError {
  readonly code = grpc.status.INVALID_ARGUMENT;
}

export function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof MedleyError) return { code: err.code, details: err.message, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: grpc.status.INTERNAL, details: `internal error: ${message}`, message };
}

/** True for transport failures worth retrying with backoff (as opposed to a refusal). */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: number } | undefined)?.code;
  return (
    code === grpc.status.UNAVAILABLE ||
    code === grpc.status.DEADLINE_EXCEEDED ||
    code === grpc.status.CANCELLED ||
    code === grpc.status.DATA_LOSS ||
    code === grpc.status.INTERNAL ||
    code === grpc.status.UNKNOWN ||
    code === undefined
  );
}
