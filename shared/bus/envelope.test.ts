import { beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity, loadSodium, type Identity } from '../crypto/index.js';
import { EnvelopeRejectedError, ReplayGuard, openEnvelope, sealEnvelope, type Envelope } from './envelope.js';
import { federationSubjects, subjectToken } from './subjects.js';

let coordinator: Identity;
let other: Identity;
beforeAll(async () => {
  await loadSodium();
  coordinator = await generateIdentity('coordinator');
  other = await generateIdentity('other');
});

const base = (): Envelope => ({ from: 'coordinator', federation: 'fed', site: 'north', session: 's1', channel: 'site', seq: 1, ref: '', body: new Uint8Array([1, 2, 3]) });
const expectation = () => ({ from: 'coordinator' as const, federation: 'fed', channel: 'site', site: 'north', keyOf: () => coordinator.signPublicKey });

describe('signed bus envelopes', () => {
  it('open what the right key sealed, with every field intact', () => {
    const opened = openEnvelope(sealEnvelope(coordinator, base()), expectation());
    expect(opened).toEqual(base());
  });

  it('refuse another key, an edited field, a misplaced message and non-envelopes', () => {
    expect(() => openEnvelope(sealEnvelope(other, base()), expectation())).toThrow(/does not verify/);
    const json = JSON.parse(new TextDecoder().decode(sealEnvelope(coordinator, base()))) as Record<string, unknown>;
    for (const [field, value] of [['seq', 2], ['session', 's2'], ['ref', 'x'], ['body', Buffer.from([9]).toString('base64')]] as const) {
      const edited = new TextEncoder().encode(JSON.stringify({ ...json, [field]: value }));
      expect(() => openEnvelope(edited, expectation()), field).toThrow(EnvelopeRejectedError);
    }
    expect(() => openEnvelope(sealEnvelope(coordinator, { ...base(), site: 'south' }), expectation())).toThrow(/was expected/);
    expect(() => openEnvelope(sealEnvelope(coordinator, { ...base(), channel: 'task' }), expectation())).toThrow(/was expected/);
    expect(() => openEnvelope(new TextEncoder().encode('hello'), expectation())).toThrow(/not a Medley envelope/);
    expect(() => openEnvelope(new TextEncoder().encode('{"v":1}'), expectation())).toThrow(/not a Medley envelope/);
  });

  it('a replay guard refuses a sequence number already seen, per session and channel', () => {
    const guard = new ReplayGuard();
    guard.check(base());
    expect(() => guard.check(base())).toThrow(/replayed/);
    guard.check({ ...base(), seq: 2 });
    expect(() => guard.check({ ...base(), seq: 1 })).toThrow(/replayed/);
    guard.check({ ...base(), session: 's2' });
    guard.check({ ...base(), channel: 'end' });
  });
});

describe('subject names', () => {
  it('keep plain names and spell the rest so two names never share a token', () => {
    expect(subjectToken('north-1')).toBe('north-1');
    expect(subjectToken('st.mary')).toBe('st_2emary');
    expect(subjectToken('a_b')).not.toBe(subjectToken('a.b'));
    expect(subjectToken('a>b*c d')).toMatch(/^[A-Za-z0-9_-]+$/);
    const subjects = federationSubjects('chest x-ray');
    expect(subjects.task('st.mary')).toBe('medley.chest_20x-ray.task.st_2emary');
    expect(subjects.taskStream).toBe('MEDLEY_chest_20x-ray_TASKS');
  });
});
