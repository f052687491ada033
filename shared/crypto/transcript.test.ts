import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { transcript, type TranscriptField } from './transcript.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const t = (fields: TranscriptField[], domain = 'medley-test-v1') => hex(transcript(domain, fields));
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

describe('transcript', () => {
  it('is a deterministic 32-byte SHA-256 digest', () => {
    const a = transcript('d', ['x', 1, utf8('y')]);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.byteLength).toBe(32);
    expect(hex(a)).toBe(hex(transcript('d', ['x', 1, utf8('y')])));
  });

  it('matches the documented encoding: tag u8, length u32 BE, bytes; numbers as u64 BE', () => {
    const full = createHash('sha256')
      .update(Buffer.from('00000000016d', 'hex')) // domain "m"
      .update(Buffer.from('0100000003' + '68c3a9', 'hex')) // "hé" is 3 bytes of UTF-8
      .update(Buffer.from('0200000008' + '0000000000000102', 'hex')) // 258
      .update(Buffer.from('0300000002' + 'ff00', 'hex'))
      .update(Buffer.from('0100000000', 'hex')) // ""
      .digest('hex');
    expect(t(['hé', 258, new Uint8Array([0xff, 0x00]), ''], 'm')).toBe(full);
  });

  it('does not confuse field boundaries ("ab","c" vs "a","bc" vs "abc")', () => {
    const digests = new Set([t(['ab', 'c']), t(['a', 'bc']), t(['abc']), t(['abc', '']), t(['', 'abc']), t(['a', 'b', 'c'])]);
    expect(digests.size).toBe(6);
    const bytes = new Set([t([utf8('ab'), utf8('c')]), t([utf8('a'), utf8('bc')]), t([utf8('abc')])]);
    expect(bytes.size).toBe(3);
  });

  it('distinguishes a string from the bytes of the same content', () => {
    expect(t(['abc'])).not.toBe(t([utf8('abc')]));
    expect(t([''])).not.toBe(t([new Uint8Array(0)]));
  });

  it('distinguishes a number from its decimal string and from its 8 encoded bytes', () => {
    expect(t([7])).not.toBe(t(['7']));
    expect(t([7])).not.toBe(t([new Uint8Array([0, 0, 0, 0, 0, 0, 0, 7])]));
    expect(t([0])).not.toBe(t(['0']));
    expect(t([1])).not.toBe(t([2]));
    expect(t([2 ** 32])).not.toBe(t([0])); // no 32-bit truncation
  });

  it('distinguishes an empty list from a list with an empty field, and the domain from a field', () => {
    const set = new Set([t([]), t(['']), t([new Uint8Array(0)]), t([], 'ab'), t(['b'], 'a'), t([], 'medley-other-v1')]);
    expect(set.size).toBe(6);
  });

  it('is sensitive to field order', () => {
    expect(t(['a', 'b'])).not.toBe(t(['b', 'a']));
    expect(t([1, 'a'])).not.toBe(t(['a', 1]));
  });

  it('accepts the largest safe integer and refuses negative, fractional, unsafe or NaN numbers', () => {
    expect(() => transcript('d', [Number.MAX_SAFE_INTEGER])).not.toThrow();
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => transcript('d', [bad])).toThrow(/not a non-negative safe integer/);
    }
  });
});
