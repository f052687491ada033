/**
 * The one way a site names where its images are, as typed after `--data` (and in an agent's
 * configuration): `synthetic`, `PATH.npz`, `folder:DIR`, `dicom:DIR`, `nifti:DIR`, `dicomweb:URL`.
 * Parsed here only, so every command accepts and rejects the same things with the same words.
 */

export type SourceSpec =
  | { readonly kind: 'synthetic'; readonly form?: SyntheticForm }
  | { readonly kind: 'npz'; readonly path: string }
  | { readonly kind: 'folder' | 'dicom' | 'nifti'; readonly dir: string }
  | { readonly kind: 'dicomweb'; readonly url: string };

export type SourceKind = SourceSpec['kind'];

/**
 * Generated data for the other task types: `synthetic-blobs` (images with elliptical lesions and
 * their masks, for segmentation) and `synthetic-noise` (noisy images with their clean originals,
 * for denoising). Plain `synthetic` is the classification generator.
 */
export type SyntheticForm = 'blobs' | 'noise';
export const TASK_SOURCE_FORMS = 'synthetic-blobs (segmentation) or synthetic-noise (denoising)';

/** The kinds whose labels come from a separate CSV (`--labels`), not from the data itself. */
export const KINDS_WITH_CSV_LABELS: readonly SourceKind[] = ['folder', 'dicom', 'dicomweb'];

export const SOURCE_FORMS = 'synthetic, PATH.npz, folder:DIR, dicom:DIR, nifti:DIR or dicomweb:URL';

export class SourceSpecError extends Error {
  override readonly name = 'SourceSpecError';
  constructor(readonly text: string, why: string) {
    super(`data source '${text}': ${why}`);
  }
}

export function parseSourceSpec(text: string): SourceSpec {
  const value = text.trim();
  if (value === 'synthetic') return { kind: 'synthetic' };
  if (value === 'synthetic-blobs') return { kind: 'synthetic', form: 'blobs' };
  if (value === 'synthetic-noise') return { kind: 'synthetic', form: 'noise' };
  const prefixed = /^([a-z]+):(.*)$/s.exec(value);
  // A Windows drive letter ("C:\data.npz") is one character before the colon, never a kind.
  if (prefixed && prefixed[1]!.length > 1) {
    const [, kind, rest] = prefixed as unknown as [string, string, string];
    if (kind === 'folder' || kind === 'dicom' || kind === 'nifti') {
      if (rest.trim() === '') throw new SourceSpecError(text, `give the folder after '${kind}:', for example ${kind}:/data/images`);
      return { kind, dir: rest };
    }
    if (kind === 'dicomweb') return { kind, url: checkUrl(text, rest) };
    if (kind === 'http' || kind === 'https') {
      throw new SourceSpecError(text, `a PACS address needs the dicomweb: prefix, for example dicomweb:${value}`);
    }
    throw new SourceSpecError(text, `'${kind}:' is not a kind of source; use ${SOURCE_FORMS}`);
  }
  if (/\.npz$/i.test(value)) return { kind: 'npz', path: value };
  throw new SourceSpecError(
    text,
    `not a known form; use ${SOURCE_FORMS} (a folder needs its kind in front, for example dicom:${value})`,
  );
}

/** The text form again (for passing a source on to a child process, and for logs). */
export function formatSourceSpec(spec: SourceSpec): string {
  switch (spec.kind) {
    case 'synthetic':
      return spec.form ? `synthetic-${spec.form}` : 'synthetic';
    case 'npz':
      return spec.path;
    case 'dicomweb':
      return `dicomweb:${spec.url}`;
    default:
      return `${spec.kind}:${spec.dir}`;
  }
}

function checkUrl(text: string, rest: string): string {
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw new SourceSpecError(text, 'the part after dicomweb: is not a URL; give the DICOMweb root, for example dicomweb:http://pacs.local:8042/dicom-web');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SourceSpecError(text, `DICOMweb is spoken over http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  return rest;
}
