/**
 * Credentials for a DICOMweb server: HTTP basic auth or a bearer token, from the configuration,
 * from the environment, or from user:password in the URL. Whatever the source, the secret only ever
 * goes into the Authorization header: the URL shown in messages has it removed, and the object
 * that holds it prints as "[credentials]".
 */

export type DicomwebAuth =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string };

/** Environment variables read when the configuration names no credentials. */
export const DICOMWEB_ENV = {
  token: 'MEDLEY_DICOMWEB_TOKEN',
  user: 'MEDLEY_DICOMWEB_USER',
  password: 'MEDLEY_DICOMWEB_PASSWORD',
} as const;

export interface ResolvedEndpoint {
  /** The server's base URL without credentials and without a trailing slash (safe to print). */
  readonly baseUrl: string;
  /** The Authorization header value, or undefined for an open server. */
  readonly authorization: Credentials | undefined;
}

/** Holds the header value so that logging the object, or JSON of it, never shows the secret. */
export class Credentials {
  readonly #header: string;
  readonly kind: DicomwebAuth['kind'];
  constructor(auth: DicomwebAuth) {
    this.kind = auth.kind;
    this.#header = auth.kind === 'basic' ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}` : `Bearer ${auth.token}`;
  }
  header(): string {
    return this.#header;
  }
  toString(): string {
    return '[credentials]';
  }
  toJSON(): string {
    return '[credentials]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `[${this.kind} credentials]`;
  }
}

/**
 * Splits a configured URL into a printable base URL and credentials. Precedence: explicit `auth`,
 * then user:password in the URL, then the environment (token before user/password), because the
 * most specific setting should win and a stray environment variable should not override a config.
 */
export function resolveEndpoint(url: string, auth?: DicomwebAuth, env: NodeJS.ProcessEnv = process.env): ResolvedEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`DICOMweb URL '${redactUserinfo(url)}' is not a valid URL; give the server's DICOMweb root, for example http://pacs.example.org:8042/dicom-web`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`DICOMweb URL '${redactUserinfo(url)}' must start with http:// or https:// (got ${parsed.protocol})`);
  }
  let fromUrl: DicomwebAuth | undefined;
  if (parsed.username !== '' || parsed.password !== '') {
    fromUrl = { kind: 'basic', username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
    parsed.username = '';
    parsed.password = '';
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new Error(`DICOMweb URL '${parsed.origin}${parsed.pathname}' must not carry a query or fragment; give only the DICOMweb root`);
  }
  const baseUrl = parsed.toString().replace(/\/+$/, '');
  const chosen = auth ?? fromUrl ?? authFromEnv(env);
  if (chosen) checkAuth(chosen);
  return { baseUrl, authorization: chosen ? new Credentials(chosen) : undefined };
}

function authFromEnv(env: NodeJS.ProcessEnv): DicomwebAuth | undefined {
  const token = env[DICOMWEB_ENV.token];
  if (token) return { kind: 'bearer', token };
  const username = env[DICOMWEB_ENV.user];
  const password = env[DICOMWEB_ENV.password];
  if (username === undefined && password === undefined) return undefined;
  if (!username || password === undefined) {
    throw new Error(`set both ${DICOMWEB_ENV.user} and ${DICOMWEB_ENV.password} for basic auth to the DICOMweb server (only one is set), or ${DICOMWEB_ENV.token} for a bearer token`);
  }
  return { kind: 'basic', username, password };
}

function checkAuth(auth: DicomwebAuth): void {
  if (auth.kind === 'bearer' && !/^[\x21-\x7e]+$/.test(auth.token)) {
    throw new Error('the DICOMweb bearer token is empty or holds spaces or non-ASCII characters; check the token you configured');
  }
  if (auth.kind === 'basic' && (auth.username === '' || auth.username.includes(':'))) {
    throw new Error('the DICOMweb basic-auth user name is empty or contains a colon; check the user name you configured');
  }
}

/** For messages about a URL the user typed, which may hold a password: drop anything before '@'. */
export function redactUserinfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}
