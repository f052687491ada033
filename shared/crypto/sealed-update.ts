import { createCipheriv, createHash, randomBytes, type Hash } from 'node:crypto';
import { ChunkDecryptor, TAG_BYTES, chunkNonce } from './chunk-aead.js';
import { AuthenticationError, InvalidUpdateError, type UpdateHeader } from '../wire/index.js';
import { boxPublicKey, boxSecretKey, sign, verify, type Identity } from './keys.js';
import { sodiumNow } from './sodium.js';
import { transcript } from './transcript.js';

/**
 * Everything an update claims about itself, in plaintext in its header (the coordinator routes by
 * it). Its digest is signed by the site and authenticated into every chunk, so none of it can be
 * changed, and no chunk can be moved to another update, without the update being refused.
 */
export type UpdateBinding = Omit<UpdateHeader, 'scheme' | 'sealedKey' | 'headerSignature'>;

export { TAG_BYTES } from './chunk-aead.js';
export const SEALING_SCHEME = 'medley-sealed-v1';
const KEY_BYTES = 32;

export function bindingDigest(b: UpdateBinding): Uint8Array {
  const layout = b.tensors.flatMap((t) => [t.name, t.dtype, t.shape.join('x'), t.offset, t.byteLength]);
  return transcript('medley-update-binding-v1', [
    b.federation, b.round, b.taskId, b.site, b.sessionId, b.baseVersion, b.numExamples, b.kind, b.totalBytes, b.formatVersion, b.tensors.length, ...layout,
  ]);
}

function headerTranscript(digest: Uint8Array, coordinatorPublicKey: Uint8Array, sealedKey: Uint8Array): Uint8Array {
  return transcript('medley-update-header-v1', [digest, coordinatorPublicKey, sealedKey]);
}

function finalTranscript(digest: Uint8Array, tagChain: Uint8Array, chunks: number): Uint8Array {
  return transcript('medley-update-final-v1', [digest, tagChain, chunks]);
}

/**
 * The site's side: a fresh symmetric key per update, sealed to the coordinator's X25519 key
 * (libsodium crypto_box_seal); chunks encrypted with ChaCha20-Poly1305 (IETF, as libsodium's
 * crypto_aead_chacha20poly1305_ietf) by Node's OpenSSL, which the `ingest` benchmark measured 3.4-5.9x
 * faster than libsodium's WebAssembly build here; Ed25519 signatures from libsodium.
 */
export class UpdateSealer {
  readonly digest: Uint8Array;
  readonly sealedKey: Uint8Array;
  readonly headerSignature: Uint8Array;
  private readonly key: Buffer;
  private index = 0;
  private finished = false;
  private readonly tags: Hash = createHash('sha256');
  private readonly payload: Hash = createHash('sha256');
  private bytes = 0;

  constructor(private readonly site: Identity, coordinatorPublicKey: Uint8Array, binding: UpdateBinding) {
    this.digest = bindingDigest(binding);
    this.key = randomBytes(KEY_BYTES);
    this.sealedKey = sodiumNow().crypto_box_seal(this.key, boxPublicKey(coordinatorPublicKey));
    this.headerSignature = sign(site, headerTranscript(this.digest, coordinatorPublicKey, this.sealedKey));
  }

  /**
   * The SHA-256 and size of the sealed payload these chunks and this final message will make,
   * without consuming the sealer. Encryption is deterministic for a key, nonce and plaintext, so
   * the stream sent afterwards is byte for byte what was hashed: the audit log can record an
   * upload before any of it leaves the site.
   */
  preview(chunks: Iterable<Uint8Array>, finalPlain: Uint8Array): { sha256: string; bytes: number } {
    if (this.index !== 0 || this.finished) throw new Error('preview must come before the first chunk is sealed');
    const hash = createHash('sha256');
    let bytes = 0;
    let index = 0;
    const add = (plain: Uint8Array, final: boolean) => {
      const cipher = createCipheriv('chacha20-poly1305', this.key, chunkNonce(index++, final), { authTagLength: TAG_BYTES });
      cipher.setAAD(this.digest, { plaintextLength: plain.byteLength });
      const body = cipher.update(plain);
      cipher.final();
      hash.update(body);
      hash.update(cipher.getAuthTag());
      bytes += body.byteLength + TAG_BYTES;
    };
    for (const chunk of chunks) add(chunk, false);
    add(finalPlain, true);
    return { sha256: hash.digest('hex'), bytes };
  }

  /** Encrypts the next data chunk. */
  seal(plain: Uint8Array): Uint8Array {
    return this.encrypt(plain, false);
  }

  /**
   * Encrypts the last message (the trailer's metadata) and signs the whole stream: the signature
   * covers the header digest and every chunk's authentication tag in order.
   */
  finish(plain: Uint8Array): { ciphertext: Uint8Array; signature: Uint8Array; chunks: number; sha256: string; bytes: number } {
    const ciphertext = this.encrypt(plain, true);
    this.finished = true;
    const chunks = this.index;
    const signature = sign(this.site, finalTranscript(this.digest, new Uint8Array(this.tags.digest()), chunks));
    this.key.fill(0);
    return { ciphertext, signature, chunks, sha256: this.payload.digest('hex'), bytes: this.bytes };
  }

  private encrypt(plain: Uint8Array, final: boolean): Uint8Array {
    if (this.finished) throw new Error('sealed update already finished');
    const cipher = createCipheriv('chacha20-poly1305', this.key, chunkNonce(this.index++, final), { authTagLength: TAG_BYTES });
    cipher.setAAD(this.digest, { plaintextLength: plain.byteLength });
    const out = Buffer.allocUnsafe(plain.byteLength + TAG_BYTES);
    const n = cipher.update(plain).copy(out, 0);
    cipher.final();
    const tag = cipher.getAuthTag();
    tag.copy(out, n);
    this.tags.update(tag);
    this.payload.update(out);
    this.bytes += out.byteLength;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}

/**
 * The coordinator's side. Construction checks the header signature (so a forged header is turned
 * away before any data is read) and opens the key; every chunk then either decrypts under the
 * header's digest and its position, or the update is refused. `decryptor()` hands the chunk work
 * to whoever runs it; `verifyFinal` checks the site's signature over the stream at the end.
 */
export class UpdateOpener {
  readonly digest: Uint8Array;
  private readonly key: Uint8Array;
  private inline: ChunkDecryptor | null = null;
  readonly who: string;

  constructor(coordinator: Identity, private readonly sitePublicKey: Uint8Array, binding: UpdateBinding, sealedKey: Uint8Array, headerSignature: Uint8Array) {
    this.who = `update from site ${binding.site} for round ${binding.round}`;
    this.digest = bindingDigest(binding);
    if (!verify(sitePublicKey, headerTranscript(this.digest, coordinator.signPublicKey, sealedKey), headerSignature)) {
      throw new AuthenticationError(`${this.who} has a header signature that does not verify with the site's enrolled key: it was not made by ${binding.site} for this round, model version and coordinator, or its header was altered`);
    }
    let key: Uint8Array;
    try {
      key = sodiumNow().crypto_box_seal_open(sealedKey, boxPublicKey(coordinator.signPublicKey), boxSecretKey(coordinator));
    } catch {
      throw new InvalidUpdateError(`${this.who} carries a key sealed to another coordinator (or damaged); the agent must use this coordinator's public key`);
    }
    if (key.byteLength !== KEY_BYTES) throw new InvalidUpdateError(`${this.who} carries a sealed key of the wrong size`);
    this.key = key;
  }

  /** The update's key and digest, for a ChunkDecryptor running elsewhere (a worker thread). */
  get secret(): { key: Uint8Array; digest: Uint8Array } {
    return { key: this.key, digest: this.digest };
  }

  /** Checks the site's signature over the header digest and every chunk's tag, in order. */
  verifyFinal(tagChain: Uint8Array, chunksOpened: number, chunks: number, signature: Uint8Array): void {
    if (chunks !== chunksOpened) {
      throw new InvalidUpdateError(`${this.who} says it has ${chunks} chunks but ${chunksOpened} arrived; send it again`);
    }
    if (!verify(this.sitePublicKey, finalTranscript(this.digest, tagChain, chunks), signature)) {
      throw new AuthenticationError(`${this.who} has a final signature that does not verify with the site's enrolled key; it was refused`);
    }
  }

  get chunksOpened(): number {
    return this.inline?.chunksOpened ?? 0;
  }

  private get decryptor(): ChunkDecryptor {
    this.inline ??= new ChunkDecryptor(this.key, this.digest, this.who, (message) => new InvalidUpdateError(message));
    return this.inline;
  }

  /** Decrypts the next data chunk here, on this thread. */
  open(ciphertext: Uint8Array): Uint8Array {
    const plain = this.decryptor.open(ciphertext, false);
    return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
  }

  /** Decrypts the last message here and checks the site's signature over the whole stream. */
  finish(ciphertext: Uint8Array, signature: Uint8Array, chunks: number): Uint8Array {
    const d = this.decryptor;
    const plain = d.open(ciphertext, true);
    this.verifyFinal(d.tagChain(), d.chunksOpened, chunks, signature);
    return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
  }
}
