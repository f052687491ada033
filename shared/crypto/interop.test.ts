/**
 * Interoperability with an independent implementation: shared/crypto/testdata/open_sealed.py, which
 * implements the transcript encoding, the binding digest, the sealed-update format and the model
 * claim from their definitions, on PyNaCl (libsodium) alone. A TypeScript change that keeps
 * round-tripping with itself but changes the format fails here.
 *
 * Needs /usr/bin/python3 with PyNaCl (Debian: python3-nacl; CI installs it). Without it, this file
 * fails: it does not skip.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateIdentity, type Identity } from './keys.js';
import { verifyModel, type ModelClaim } from './model-signature.js';
import { UpdateOpener, UpdateSealer, bindingDigest, type UpdateBinding } from './sealed-update.js';
import { loadSodium } from './sodium.js';
import { transcript, type TranscriptField } from './transcript.js';

const PYTHON = '/usr/bin/python3';
const HELPER = fileURLToPath(new URL('./testdata/open_sealed.py', import.meta.url));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let coordinator: Identity;
let site: Identity;
let work: string;

function python(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, [HELPER, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`could not run ${PYTHON} ${HELPER}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function pythonOk(args: string[], input?: string): string {
  const r = python(args, input);
  if (r.status !== 0) throw new Error(`${PYTHON} ${HELPER} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout.trim();
}

/** Why PyNaCl cannot be used, or null when it can. Every test fails with this (none is skipped). */
let naclMissing: string | null = null;

function requireNacl(): void {
  if (naclMissing) throw new Error(naclMissing);
}

beforeAll(async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import nacl.bindings, nacl.signing'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    naclMissing =
      `the crypto interoperability test needs ${PYTHON} with PyNaCl: install the Debian package python3-nacl ` +
      `(apt-get install python3-nacl; CI installs it). ${probe.error?.message ?? probe.stderr.trim()}`;
  }
  await loadSodium();
  coordinator = await generateIdentity('coordinator');
  site = await generateIdentity('site-a');
  work = mkdtempSync(join(tmpdir(), 'medley-interop-'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const binding: UpdateBinding = {
  federation: 'fed-chest-xray',
  round: 12,
  taskId: 'task-ü-1',
  site: 'site-a',
  sessionId: 'session-9',
  baseVersion: 11,
  numExamples: 4321,
  kind: 'delta',
  tensors: [
    { name: 'conv/kernel', shape: [3, 3, 1, 8], dtype: 'float32', offset: 0, byteLength: 288 },
    { name: 'conv/bias', shape: [8], dtype: 'float32', offset: 288, byteLength: 32 },
    { name: 'scalar', shape: [], dtype: 'float32', offset: 320, byteLength: 4 },
  ],
  totalBytes: 324,
  formatVersion: 1,
};

interface Written {
  dir: string;
  payloadSha256: string;
  trailer: string;
  chunkCount: number;
}

/** Seals an update and writes what a receiver gets, plus the coordinator's secret key, to a folder. */
function sealToFolder(name: string, sizes: number[], tamper?: (files: { chunks: Uint8Array[]; manifest: Record<string, unknown> }) => void): Written {
  const dir = join(work, name);
  const payload = new Uint8Array(randomBytes(sizes.reduce((a, b) => a + b, 0)));
  const trailer = JSON.stringify({ sha256: createHash('sha256').update(payload).digest('hex'), metrics: { loss: 0.125, auc: 0.75 } });
  const sealer = new UpdateSealer(site, coordinator.signPublicKey, binding);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const size of sizes) {
    chunks.push(new Uint8Array(sealer.seal(payload.subarray(at, at + size))));
    at += size;
  }
  const done = sealer.finish(new Uint8Array(Buffer.from(trailer, 'utf8')));

  // The TypeScript receiver agrees before we ask Python.
  const opener = new UpdateOpener(coordinator, site.signPublicKey, binding, sealer.sealedKey, sealer.headerSignature);
  const opened = Buffer.concat(chunks.map((c) => opener.open(c)));
  expect(opened.equals(Buffer.from(payload))).toBe(true);
  expect(Buffer.from(opener.finish(done.ciphertext, done.signature, done.chunks)).toString('utf8')).toBe(trailer);

  const manifest: Record<string, unknown> = {
    digest: hex(bindingDigest(binding)),
    binding,
    sealedKey: hex(sealer.sealedKey),
    headerSignature: hex(sealer.headerSignature),
    finalSignature: hex(done.signature),
    chunks: done.chunks,
    sitePublicKey: hex(site.signPublicKey),
    coordinatorSecretKey: hex(coordinator.signSecretKey),
  };
  tamper?.({ chunks, manifest });
  mkdirSync(dir);
  chunks.forEach((c, i) => writeFileSync(join(dir, `chunk-${String(i).padStart(4, '0')}.bin`), c));
  writeFileSync(join(dir, 'final.bin'), done.ciphertext);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return { dir, payloadSha256: createHash('sha256').update(payload).digest('hex'), trailer, chunkCount: done.chunks };
}

describe('interoperability with an independent Python (PyNaCl) receiver', () => {
  beforeEach(() => requireNacl());

  it('has /usr/bin/python3 with PyNaCl (python3-nacl)', () => {
    expect(naclMissing).toBeNull();
  });

  it('Python verifies both signatures, opens the key and decrypts every chunk of a TypeScript-sealed update', () => {
    const w = sealToFolder('good', [1024, 4096, 777, 1, 65536, 13]);
    expect(w.chunkCount).toBe(7);
    const out = JSON.parse(pythonOk([w.dir])) as { sha256: string; trailer: string; chunks: number };
    expect(out.sha256).toBe(w.payloadSha256);
    expect(out.trailer).toBe(w.trailer);
    expect(out.chunks).toBe(7);
  });

  it('the Python receiver is not a pushover: it refuses a flipped byte, a swap and a bad final signature', () => {
    const flipped = sealToFolder('flipped', [100, 200, 300], ({ chunks }) => {
      chunks[1][5] ^= 1;
    });
    const r1 = python([flipped.dir]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/message 1 fails authentication/);

    const swapped = sealToFolder('swapped', [100, 200, 300], ({ chunks }) => {
      [chunks[0], chunks[2]] = [chunks[2], chunks[0]];
    });
    expect(python([swapped.dir]).stderr).toMatch(/message 0 fails authentication/);

    const badSig = sealToFolder('badsig', [100, 200], ({ manifest }) => {
      const sig = Buffer.from(manifest.finalSignature as string, 'hex');
      sig[0] ^= 1;
      manifest.finalSignature = sig.toString('hex');
    });
    expect(python([badSig.dir]).stderr).toMatch(/final signature does not verify/);

    const otherSite = sealToFolder('othersite', [100], ({ manifest }) => {
      manifest.sitePublicKey = hex(coordinator.signPublicKey);
    });
    expect(python([otherSite.dir]).stderr).toMatch(/header signature does not verify/);
  });

  it('Python computes the same transcript digests as transcript()', () => {
    const cases: { domain: string; fields: TranscriptField[] }[] = [
      { domain: 'medley-test-v1', fields: [] },
      { domain: 'medley-test-v1', fields: ['ab', 'c'] },
      { domain: 'medley-test-v1', fields: ['a', 'bc'] },
      { domain: 'medley-test-v1', fields: ['', new Uint8Array(0), 0] },
      { domain: 'ünïcødé ✓', fields: ['日本語', 'e\u0301'] },
      { domain: 'd', fields: [Number.MAX_SAFE_INTEGER, 2 ** 32, 255, 256] },
      { domain: 'd', fields: [new Uint8Array(randomBytes(300)), 'x'.repeat(70_000)] },
    ];
    for (const c of cases) {
      const json = {
        domain: c.domain,
        fields: c.fields.map((f) => (typeof f === 'string' ? { s: f } : typeof f === 'number' ? { n: f } : { b: hex(f) })),
      };
      expect(pythonOk(['--transcript'], JSON.stringify(json)), JSON.stringify(json).slice(0, 100)).toBe(hex(transcript(c.domain, c.fields)));
    }
  });

  it('Python signs a model claim that TypeScript verifyModel accepts', () => {
    const claim: ModelClaim = {
      federation: 'fed-chest-xray',
      version: 7,
      sha256: createHash('sha256').update('weights').digest('hex'),
      totalBytes: 324,
      topologyJson: JSON.stringify({ class_name: 'Sequential', config: { name: 'ñet', layers: [{ class_name: 'Dense' }] } }),
      specJson: JSON.stringify({ inputShape: [28, 28, 1], classes: 2 }),
      tensors: binding.tensors,
    };
    const dir = join(work, 'model');
    mkdirSync(dir);
    writeFileSync(join(dir, 'claim.json'), JSON.stringify(claim));
    writeFileSync(join(dir, 'secret_key.hex'), hex(coordinator.signSecretKey) + '\n');
    const signature = new Uint8Array(Buffer.from(pythonOk(['--sign-model', dir]), 'hex'));
    expect(signature.byteLength).toBe(64);
    expect(verifyModel(coordinator.signPublicKey, claim, signature)).toBe(true);
    expect(verifyModel(coordinator.signPublicKey, { ...claim, version: 8 }, signature)).toBe(false);
    expect(verifyModel(site.signPublicKey, claim, signature)).toBe(false);
  });
});
