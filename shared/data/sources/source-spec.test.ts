import { describe, expect, it } from 'vitest';
import { formatSourceSpec, parseSourceSpec } from './source-spec.js';

describe('parseSourceSpec: one way to name a source', () => {
  it.each([
    ['synthetic', { kind: 'synthetic' }],
    ['/data/pneumoniamnist.npz', { kind: 'npz', path: '/data/pneumoniamnist.npz' }],
    ['rel/dir/x.NPZ', { kind: 'npz', path: 'rel/dir/x.NPZ' }],
    ['dicom:/data/cxr', { kind: 'dicom', dir: '/data/cxr' }],
    ['nifti:./volumes', { kind: 'nifti', dir: './volumes' }],
    ['folder:C:/images', { kind: 'folder', dir: 'C:/images' }],
    ['dicomweb:http://pacs.local:8042/dicom-web', { kind: 'dicomweb', url: 'http://pacs.local:8042/dicom-web' }],
  ])('%s', (text, spec) => {
    expect(parseSourceSpec(text)).toEqual(spec);
    expect(formatSourceSpec(parseSourceSpec(text))).toBe(text);
  });

  it.each([
    ['/data/cxr', /not a known form; .*a folder needs its kind in front, for example dicom:\/data\/cxr/],
    ['dicom:', /give the folder after 'dicom:'/],
    ['png:/x', /'png:' is not a kind of source; use synthetic, PATH\.npz, folder:DIR, dicom:DIR, nifti:DIR or dicomweb:URL/],
    ['http://pacs/dicom-web', /needs the dicomweb: prefix, for example dicomweb:http:\/\/pacs\/dicom-web/],
    ['dicomweb:pacs.local', /not a URL/],
    ['dicomweb:ftp://pacs.local/x', /over http or https, not ftp/],
  ])('refuses %s with a message saying what to type', (text, message) => {
    expect(() => parseSourceSpec(text)).toThrow(message);
    expect(() => parseSourceSpec(text)).toThrow(new RegExp(`^data source '${text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}'`));
  });
});
