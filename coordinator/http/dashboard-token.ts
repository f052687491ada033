import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The dashboard's credential. A browser cannot make the CLI's one-time admin tokens (that needs the
 * admin key itself in the page), so the dashboard takes a bearer token derived from the admin key:
 * HMAC-SHA256(adminKey, "medley-dashboard-read-v1"). It opens only the read-only HTTP endpoints
 * (the admin gRPC API refuses it), anyone holding admin.key can print it again
 * (`medley coordinator dashboard-token`), and it changes with the admin key, the way to revoke it.
 */
const PURPOSE = 'medley-dashboard-read-v1';
const PREFIX = 'mdr1_';

export function dashboardToken(adminKey: Uint8Array): string {
  return PREFIX + createHmac('sha256', adminKey).update(PURPOSE).digest('base64url');
}

/** Checks the bearer token of an HTTP request, in constant time whatever the caller sent. */
export class DashboardAuth {
  private readonly expected: Buffer;
  /** The token itself, for the log writer's list of secrets (it must never be logged). */
  readonly token: string;

  constructor(adminKey: Uint8Array) {
    this.token = dashboardToken(adminKey);
    this.expected = digest(this.token);
  }

  /** True when `authorization` is `Bearer <the token>`. */
  allows(authorization: string | undefined): boolean {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    // Compared as digests so the comparison takes the same time whatever the length sent.
    return timingSafeEqual(digest(match?.[1] ?? ''), this.expected) && match !== null;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
