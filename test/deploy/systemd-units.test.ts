/**
 * The systemd files in deploy/systemd/ are checked by systemd's own tools, run against a scratch
 * root so the result does not depend on this machine:
 * - `systemd-analyze verify --root=ROOT` parses each unit as systemd would load it. It also insists
 *   that ExecStart's program exists and is executable inside ROOT, so the root gets an executable
 *   /usr/bin/node (a stub: verify checks the path, it never runs it) and a copy of this machine's
 *   stock units (multi-user.target, network-online.target, ... that our units name).
 *   verify exits 0 on an unknown key and only prints "Unknown key ..., ignoring", so any output at
 *   all counts as a failure; a deliberately broken copy proves that such a unit is caught.
 * - `systemd-sysusers --root` and `systemd-tmpfiles --root --create` apply the user and folder
 *   files to the scratch root, so the user really is made and the key folder really gets its owner.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dryRun } from './cli-dry-run.js';
import { unitDirectives } from './unit-file.js';

const SYSTEMD_DIR = new URL('../../deploy/systemd/', import.meta.url).pathname;
const UNITS = readdirSync(SYSTEMD_DIR).filter((f) => f.endsWith('.service')).sort();
const STOCK_UNITS = '/usr/lib/systemd/system';
const scratch: string[] = [];

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'medley-systemd-'));
  scratch.push(dir);
  return dir;
}

/** A root with the stock units, our units (or the given replacements) and, unless told not to, /usr/bin/node. */
function unitRoot(units: Record<string, string>, withNode = true): string {
  const root = scratchDir();
  mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
  cpSync(STOCK_UNITS, join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  for (const [name, text] of Object.entries(units)) writeFileSync(join(root, 'etc/systemd/system', name), text);
  if (withNode) {
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/bin/node'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(root, 'usr/bin/node'), 0o755);
  }
  return root;
}

function verify(root: string, unit: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, unit], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: (r.stdout + r.stderr).trim() };
}

const unitText = (name: string) => readFileSync(join(SYSTEMD_DIR, name), 'utf8');

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('deploy/systemd units', () => {
  it('has a unit for each role', () => {
    expect(UNITS).toEqual(['medley-agent.service', 'medley-coordinator.service']);
    expect(existsSync(STOCK_UNITS), 'systemd is installed (Debian package systemd)').toBe(true);
  });

  for (const unit of UNITS) {
    it(`${unit} passes systemd-analyze verify with no warning`, () => {
      const root = unitRoot({ [unit]: unitText(unit) });
      expect(verify(root, unit)).toEqual({ status: 0, output: '' });
    });
  }

  it('a unit with an unknown directive or a bad value is caught', () => {
    const good = unitText('medley-agent.service');
    const misspelt = good.replace(/^LockPersonality=true$/m, 'LockPersonalty=true');
    const badValue = good.replace(/^ProtectSystem=strict$/m, 'ProtectSystem=strickt');
    expect(misspelt).not.toBe(good);
    expect(badValue).not.toBe(good);
    const a = verify(unitRoot({ 'medley-agent.service': misspelt }), 'medley-agent.service');
    expect(a.output).toMatch(/Unknown key 'LockPersonalty'/);
    const b = verify(unitRoot({ 'medley-agent.service': badValue }), 'medley-agent.service');
    expect(b.output).toMatch(/strickt/);
  });

  it('verify fails when the program ExecStart names is missing (so the stub /usr/bin/node matters)', () => {
    const r = verify(unitRoot({ 'medley-agent.service': unitText('medley-agent.service') }, false), 'medley-agent.service');
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/\/usr\/bin\/node is not executable/);
  });

  for (const [unit, role, config] of [
    ['medley-agent.service', 'agent run', '/etc/medley/agent.yaml'],
    ['medley-coordinator.service', 'coordinator serve', '/etc/medley/coordinator.yaml'],
  ] as const) {
    it(`${unit} runs \`medley ${role} --config ${config}\` as user medley, sandboxed, restarting on failure`, () => {
      const d = unitDirectives(unitText(unit));
      expect(d.get('Service.ExecStart')).toEqual([`/usr/bin/node /opt/medley/bin/medley.js ${role} --config ${config}`]);
      expect(d.get('Service.User')).toEqual(['medley']);
      expect(d.get('Service.Group')).toEqual(['medley']);
      expect(d.get('Service.Restart')).toEqual(['on-failure']);
      expect(d.get('Service.RestartSec')?.length).toBe(1);
      expect(d.get('Service.StateDirectory')).toEqual([`medley/${role.split(' ')[0]}`]);
      expect(d.get('Service.ConfigurationDirectory')).toEqual(['medley']);
      // ConfigurationDirectory= alone mounts it writable in the sandbox (systemd-runtime.test.ts).
      expect(d.get('Service.ReadOnlyPaths')).toEqual(['/etc/medley']);
      const hardening: Record<string, string> = {
        NoNewPrivileges: 'true', ProtectSystem: 'strict', ProtectHome: 'true', PrivateTmp: 'true', PrivateDevices: 'true',
        ProtectKernelTunables: 'true', ProtectKernelModules: 'true', ProtectKernelLogs: 'true', ProtectControlGroups: 'true',
        RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX', LockPersonality: 'true', RestrictNamespaces: 'true',
        RestrictSUIDSGID: 'true', SystemCallFilter: '@system-service', SystemCallArchitectures: 'native',
        CapabilityBoundingSet: '', UMask: '0077',
      };
      for (const [key, value] of Object.entries(hardening)) expect(d.get(`Service.${key}`), key).toEqual([value]);
      // See the next test: Node cannot run under write-xor-execute memory.
      expect(d.has('Service.MemoryDenyWriteExecute')).toBe(false);
      expect(d.get('Install.WantedBy')).toEqual(['multi-user.target']);
    });

    it(`${unit}'s command line parses with the real CLI`, async () => {
      const [execStart] = unitDirectives(unitText(unit)).get('Service.ExecStart')!;
      const [node, launcher, ...argv] = execStart.split(/\s+/);
      expect([node, launcher]).toEqual(['/usr/bin/node', '/opt/medley/bin/medley.js']);
      expect((await dryRun(argv)).command).toBe(role);
    });
  }

  it('Node aborts under write-xor-execute memory, which is why MemoryDenyWriteExecute= is left out', (ctx) => {
    // MemoryDenyWriteExecute=yes refuses to make written memory executable; since Linux 6.3 the
    // kernel offers the same rule per process (prctl PR_SET_MDWE = 65, PR_MDWE_REFUSE_EXEC_GAIN = 1).
    const python = [
      'import ctypes, os, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)',
      'os.execv(sys.argv[1], sys.argv[1:])',
    ].join('\n');
    const run = (script: string) => spawnSync('python3', ['-c', python, process.execPath, '-e', script], { encoding: 'utf8' });
    const r = run('console.log("ran")');
    if (r.status === 77) ctx.skip(); // kernel older than 6.3: no PR_SET_MDWE to show it with
    expect(r.stdout).not.toContain('ran');
    expect(r.signal ?? r.status).not.toBe(0);
    expect(r.stderr).toMatch(/SetPermissions|Check failed/);
    // Control: the same launcher without the prctl runs Node fine, so the rule is what kills it.
    const control = spawnSync('python3', ['-c', python.replace('libc.prctl(65, 1, 0, 0, 0) != 0', 'False'), process.execPath, '-e', 'console.log("ran")'], { encoding: 'utf8' });
    expect(control.stdout.trim()).toBe('ran');
  });

  it('medley.sysusers.conf makes the medley system user, and medley.tmpfiles.conf its key folder (mode 700)', () => {
    const root = scratchDir();
    mkdirSync(join(root, 'etc'));
    const sysusers = spawnSync('systemd-sysusers', [`--root=${root}`, join(SYSTEMD_DIR, 'medley.sysusers.conf')], { encoding: 'utf8' });
    expect(sysusers.status, sysusers.stderr).toBe(0);
    const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
    const entry = passwd.split('\n').find((l) => l.startsWith('medley:'));
    expect(entry).toBeDefined();
    const [, , uid, gid, , home, shell] = entry!.split(':');
    expect(Number(uid)).toBeLessThan(1000); // a system user
    expect(home).toBe('/var/lib/medley');
    expect(shell).toBe('/usr/sbin/nologin');
    const tmpfiles = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', join(SYSTEMD_DIR, 'medley.tmpfiles.conf')], { encoding: 'utf8' });
    expect(tmpfiles.status, tmpfiles.stderr).toBe(0);
    const keys = statSync(join(root, 'etc/medley/keys'));
    expect(keys.isDirectory()).toBe(true);
    expect(keys.mode & 0o777).toBe(0o700);
    expect([keys.uid, keys.gid]).toEqual([Number(uid), Number(gid)]);
  });
});
