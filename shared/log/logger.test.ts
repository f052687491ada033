import { describe, expect, it } from 'vitest';
import { createLogger } from './index.js';

function capture() {
  const lines: string[] = [];
  return { lines, out: { write: (text: string) => lines.push(...text.split('\n').filter(Boolean)) } };
}

const at = () => new Date('2026-01-02T03:04:05.000Z');

describe('createLogger', () => {
  it('writes the text format the roles always wrote, with a level only when it is not info', () => {
    const { lines, out } = capture();
    const log = createLogger({ format: 'text', role: 'agent', site: 'site-a', out });
    log('connected');
    log.warn('upload failed');
    expect(lines).toEqual(['[agent site-a] connected', '[agent site-a] warn: upload failed']);
  });

  it('writes one parseable JSON object a line, with the round as a number when the message names one', () => {
    const { lines, out } = capture();
    const log = createLogger({ format: 'json', role: 'coordinator', out, now: at });
    log('round 12 closed: 2 updates');
    log.error('line one\nline two "quoted"');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual({ time: '2026-01-02T03:04:05.000Z', level: 'info', role: 'coordinator', round: 12, msg: 'round 12 closed: 2 updates' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'error', msg: 'line one\nline two "quoted"' });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty('site');
  });

  it('never writes a registered secret, in either format', () => {
    for (const format of ['text', 'json'] as const) {
      const { lines, out } = capture();
      const log = createLogger({ format, role: 'agent', site: 'b', out, secrets: ['s3cr3t-pass', 'x'] });
      log('connecting to nats://user:s3cr3t-pass@host:4222 (password s3cr3t-pass)');
      log.redact('mdr1_token-learnt-later');
      log.warn('refused mdr1_token-learnt-later');
      expect(lines.join('\n')).not.toContain('mdr1_token-learnt-later');
      expect(lines.join('\n')).not.toContain('s3cr3t-pass');
      expect(lines.join('\n')).toContain('[redacted]');
      // A one-letter "secret" is not scrubbed from every word.
      expect(lines.join('\n')).toContain('nats://');
    }
  });
});
