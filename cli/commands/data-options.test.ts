import { mkdtempSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSource, dataSpecFrom, SPLITTABLE_KINDS } from './data-options.js';

// Made at load time: it.each's cases name paths inside it.
const dir = mkdtempSync(join(tmpdir(), 'medley-data-options-'));
beforeAll(async () => {
  await writeFile(join(dir, 'labels.csv'), 'path,label\na.dcm,1\n');
  await writeFile(join(dir, 'set.npz'), '');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = { shard: '1/1', partition: 'iid', seed: 0 };

describe('dataSpecFrom / checkSource: --data for every command', () => {
  it('turns a folder source with labels, window and size into a DataSpec', () => {
    const spec = dataSpecFrom({ ...base, data: `dicom:${dir}`, labels: join(dir, 'labels.csv'), window: '40,400', size: 64 });
    expect(spec).toMatchObject({ source: `dicom:${dir}`, labels: join(dir, 'labels.csv'), size: 64, window: { kind: 'fixed', window: { center: 40, width: 400 } } });
    expect(dataSpecFrom({ ...base, data: 'synthetic' }).window).toBeUndefined();
  });

  it.each([
    [{ data: join(dir, 'missing.npz') }, /--data .*missing\.npz: no such file; give "synthetic" or the path of a MedMNIST \.npz file/],
    [{ data: dir }, /--data: data source '.*': not a known form; .* for example dicom:/],
    [{ data: `nifti:${join(dir, 'labels.csv')}` }, /is not a folder this process can read/],
    [{ data: join(dir, 'set.npz'), labels: join(dir, 'labels.csv') }, /--labels .*: --data .*set\.npz carries its own labels; --labels is for dicom:, folder:, nifti: and dicomweb: sources/],
    [{ data: `folder:${dir}`, labels: join(dir, 'nope.csv') }, /--labels .*nope\.csv: no such file; give the labels CSV/],
    [{ data: `folder:${dir}`, window: '40' }, /--window: window '40': use min-max, file .* or CENTER,WIDTH/],
  ])('refuses %j', (flags, message) => {
    expect(() => dataSpecFrom({ ...base, ...flags })).toThrow(message);
  });

  it('commands that divide one source among many sites refuse a folder or a PACS, saying where it belongs', () => {
    const rules = { kinds: SPLITTABLE_KINDS, refusal: 'simulate divides synthetic data or a .npz among its sites' };
    expect(() => checkSource(`dicom:${dir}`, rules)).toThrow(`--data dicom:${dir}: simulate divides synthetic data or a .npz among its sites`);
    expect(() => checkSource('dicomweb:http://pacs:8042/dicom-web', { ...rules, flag: '--eval-data' })).toThrow(/^--eval-data dicomweb:/);
    expect(checkSource('synthetic', rules)).toEqual({ kind: 'synthetic' });
  });
});
