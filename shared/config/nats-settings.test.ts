import { describe, expect, it } from 'vitest';
import { ConfigError } from '../wire/index.js';
import { parseNatsUrl, resolveNatsSettings, type NatsInput } from './nats-settings.js';

const FLAGS = { url: '--nats', user: '--nats-user', passwordFile: '--nats-password-file', nkeyFile: '--nats-nkey-file', credsFile: '--nats-creds' } as const;
const byFlag = (key: keyof NatsInput) => FLAGS[key];

describe('parseNatsUrl', () => {
  it('takes one nats:// or tls:// URL or a comma-separated cluster list', () => {
    expect(parseNatsUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
    expect(parseNatsUrl('tls://a.example:4222, nats://b.example:4222')).toBe('tls://a.example:4222,nats://b.example:4222');
  });

  it('refuses another scheme, an empty entry, and credentials in the URL', () => {
    expect(() => parseNatsUrl('http://a:4222')).toThrow('"http://a:4222" uses http://; expected nats://HOST:PORT or tls://HOST:PORT, several separated by commas');
    expect(() => parseNatsUrl('nats://a:4222,')).toThrow(/is not a NATS server list/);
    expect(() => parseNatsUrl('a:4222')).toThrow(/uses a:\/\//);
    expect(() => parseNatsUrl('nats://bob:secret@a:4222')).toThrow(/carries credentials in the URL/);
  });
});

describe('resolveNatsSettings', () => {
  it('is undefined when nothing is given, and keeps exactly the given credential', () => {
    expect(resolveNatsSettings({}, byFlag)).toBeUndefined();
    expect(resolveNatsSettings({ url: 'nats://a:4222', credsFile: '/etc/medley/site.creds' }, byFlag)).toEqual({ url: 'nats://a:4222', credsFile: '/etc/medley/site.creds' });
    expect(resolveNatsSettings({ url: 'nats://a:4222', user: 'st-mary', passwordFile: '/p' }, byFlag)).toEqual({ url: 'nats://a:4222', user: 'st-mary', passwordFile: '/p' });
  });

  it('refuses two credential forms, a password file without its user, a user without a password, and credentials without a server, naming each input', () => {
    const refuse = (input: NatsInput) => {
      try {
        resolveNatsSettings(input, byFlag);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refuse({ url: 'nats://a:4222', nkeyFile: '/n', credsFile: '/c' })).toBe(
      'NATS credentials given in more than one form (--nats-nkey-file and --nats-creds); keep exactly one: a user with a password file, an NKEY seed file, or a .creds file',
    );
    expect(refuse({ url: 'nats://a:4222', passwordFile: '/p' })).toBe('--nats-password-file needs --nats-user: the password belongs to a NATS user');
    expect(refuse({ url: 'nats://a:4222', user: 'u' })).toMatch(/^--nats-user needs --nats-password-file/);
    expect(refuse({ credsFile: '/c' })).toMatch(/^--nats-creds given without a NATS server; add --nats/);
  });
});
