/**
 * One DICOM file (Part 10, or a bare data set without the meta header) to modality values.
 * dicom-parser (cornerstone's parser) reads the elements for every transfer syntax; this file
 * picks the pixel module out of them and decodes native and RLE pixel data. Anything it cannot
 * decode comes back as a reason, never as an exception: one bad file must not stop an agent.
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DecodedImage, VoiWindow } from '../types.js';
import { guessTransferSyntax, hasPart10Marker } from './no-meta.js';
import { applyBitsStored, checkLayout, decodeNative, PixelDataError, type PixelLayout } from './pixel-layout.js';
import { decodeRleFrame, RleError } from './rle.js';
import { IMPLICIT_LITTLE, pixelEncoding, unsupportedReason } from './transfer-syntax.js';

export interface DicomImage extends DecodedImage {
  readonly transferSyntax: string;
  /** Modality (0008,0060), e.g. CT, MR, CR; empty when absent. */
  readonly modality: string;
}

export type DicomDecodeResult = { readonly ok: true; readonly image: DicomImage } | { readonly ok: false; readonly reason: string };

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

const PHOTOMETRIC = new Set(['MONOCHROME1', 'MONOCHROME2', 'RGB', 'YBR_FULL', 'YBR_FULL_422']);

/**
 * Decodes every frame of a DICOM file into modality values (after Rescale Slope/Intercept, as
 * pydicom's `apply_modality_lut` gives them), or says in one sentence why it cannot.
 * `path` becomes the image's `path` and its `path` identifier.
 */
export function decodeDicomPart10(bytes: Uint8Array, path: string): DicomDecodeResult {
  const parsed = parse(bytes);
  if ('reason' in parsed) return { ok: false, reason: parsed.reason };
  const { ds, transferSyntax } = parsed;
  try {
    return { ok: true, image: decodeImage(ds, transferSyntax, path) };
  } catch (err) {
    if (err instanceof SkipError || err instanceof PixelDataError || err instanceof RleError) return { ok: false, reason: err.message };
    return { ok: false, reason: `the pixel data could not be decoded (${describeError(err)}); the file may be corrupt` };
  }
}

class SkipError extends Error {}

function parse(bytes: Uint8Array): { ds: DataSet; transferSyntax: string } | { reason: string } {
  let assumed: string | undefined;
  if (!hasPart10Marker(bytes)) {
    assumed = guessTransferSyntax(bytes);
    if (assumed === undefined) {
      return { reason: 'not a DICOM file (no DICM marker at byte 128 and no DICOM data element at the start); remove it from the folder or export it as DICOM' };
    }
  }
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, { ...(assumed ? { TransferSyntaxUID: assumed } : {}), inflater: inflate });
  } catch (err) {
    return { reason: vrMismatch(bytes, assumed) ?? parseFailure(err, bytes.length) };
  }
  const transferSyntax = assumed ?? ds.string('x00020010') ?? '';
  return { ds, transferSyntax: transferSyntax.replace(/\0/g, '').trim() };
}

/** dicom-parser hands the file and where the deflated data set starts; it wants the whole file back, inflated. */
function inflate(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateRawSync(bytes.subarray(position));
  const whole = new Uint8Array(position + inflated.length);
  whole.set(bytes.subarray(0, position), 0);
  whole.set(inflated, position);
  return whole;
}

/**
 * Some writers declare an explicit-VR transfer syntax but write the data set in implicit VR;
 * dicom-parser then reads garbage lengths. Say so rather than calling the file truncated.
 */
function vrMismatch(bytes: Uint8Array, assumed: string | undefined): string | undefined {
  if (assumed !== undefined) return undefined;
  try {
    const meta = dicomParser.readPart10Header(bytes) as unknown as { position?: number; string(tag: string): string | undefined };
    const declared = meta.string('x00020010')?.replace(/\0/g, '').trim();
    const at = meta.position ?? 0;
    if (!declared || declared === IMPLICIT_LITTLE || at + 6 > bytes.length) return undefined;
    if (guessTransferSyntax(bytes.subarray(at)) !== IMPLICIT_LITTLE) return undefined;
    return `its data set is written in implicit VR although its transfer syntax (${declared}) says explicit VR; rewrite it with a consistent header (for example: dcmconv +ti IN OUT, then convert back)`;
  } catch {
    return undefined;
  }
}

/** dicom-parser throws strings, Errors, or {exception, dataSet} with what it read before failing. */
function parseFailure(err: unknown, size: number): string {
  const partial = typeof err === 'object' && err !== null && 'dataSet' in err;
  const inner = partial ? (err as unknown as { exception: unknown }).exception : err;
  const message = describeError(inner);
  if (/0002,0010/.test(message)) {
    return 'the file meta header has no Transfer Syntax UID (0002,0010), so its encoding is unknown; rewrite it with a complete header (for example: dcmconv IN OUT)';
  }
  if (/incorrect header check|invalid (stored|block|distance)|unexpected end of file|zlib/i.test(message)) {
    return `its deflated data set cannot be inflated (${message}); the file is corrupt or truncated`;
  }
  if (partial || /overrun|past end|greater than or equal to|maxPosition|position/i.test(message)) {
    return `truncated or corrupt: its data ends inside an element (the file has ${size} bytes; parser: ${message}); copy or export it again`;
  }
  return `not a readable DICOM file (parser: ${message})`;
}

function decodeImage(ds: DataSet, transferSyntax: string, path: string): DicomImage {
  const element = ds.elements.x7fe00010;
  if (!element) {
    if (ds.elements.x7fe00008 || ds.elements.x7fe00009) throw new SkipError('float pixel data (7FE0,0008/0009) is not supported; only integer Pixel Data (7FE0,0010) is');
    const what = text(ds, 'x00080060') ? ` (modality ${text(ds, 'x00080060')})` : '';
    throw new SkipError(`no pixel data (7FE0,0010)${what}: not an image (a report, plan, structure set or waveform?), nothing to train on`);
  }
  const encoding = pixelEncoding(transferSyntax);
  if (encoding.kind === 'unsupported') throw new SkipError(unsupportedReason(transferSyntax || '(none)', encoding.name));
  if (ds.elements.x00283000) throw new SkipError('it maps values through a Modality LUT Sequence (0028,3000), which is not supported; use images with Rescale Slope/Intercept');
  const layout = readLayout(ds);
  let raw: Float64Array;
  if (encoding.kind === 'native') {
    if (element.encapsulatedPixelData) throw new SkipError(`its pixel data is encapsulated although transfer syntax ${transferSyntax} is uncompressed; the file is inconsistent`);
    const end = Math.min(element.dataOffset + element.length, ds.byteArray.length);
    raw = decodeNative(ds.byteArray.subarray(element.dataOffset, end), layout, encoding.littleEndian);
  } else {
    raw = decodeRle(ds, element, layout);
  }
  return toImage(ds, raw, layout, transferSyntax, path);
}

function readLayout(ds: DataSet): PixelLayout {
  const rows = ds.uint16('x00280010');
  const columns = ds.uint16('x00280011');
  const bitsAllocated = ds.uint16('x00280100');
  if (rows === undefined || columns === undefined || bitsAllocated === undefined) {
    throw new SkipError('the image pixel module is incomplete (Rows, Columns or Bits Allocated is missing)');
  }
  const samples = ds.uint16('x00280002') ?? 1;
  const photometric = text(ds, 'x00280004') ?? (samples === 1 ? 'MONOCHROME2' : 'RGB');
  if (!PHOTOMETRIC.has(photometric)) {
    throw new SkipError(`Photometric Interpretation ${photometric} is not supported (MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, YBR_FULL_422 are)`);
  }
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const layout: PixelLayout = {
    rows,
    columns,
    frames: numberOfFrames(ds),
    samples,
    bitsAllocated,
    bitsStored,
    highBit: ds.uint16('x00280102') ?? bitsStored - 1,
    signed: (ds.uint16('x00280103') ?? 0) === 1,
    planar: ds.uint16('x00280006') === 1 ? 1 : 0,
    photometric,
  };
  checkLayout(layout);
  return layout;
}

/** Number of Frames is an IS string; a lenient parse of a damaged one ("1A") would silently drop frames. */
function numberOfFrames(ds: DataSet): number {
  const value = text(ds, 'x00280008');
  if (value === undefined) return 1;
  if (!/^[+-]?\d+$/.test(value)) throw new SkipError(`Number of Frames (0028,0008) is '${value}', not a whole number; the header is damaged`);
  return Number(value);
}

type PixelElement = NonNullable<DataSet['elements'][string]>;

function decodeRle(ds: DataSet, element: PixelElement, layout: PixelLayout): Float64Array {
  if (!element.encapsulatedPixelData) throw new SkipError('RLE Lossless pixel data must be encapsulated, but this file stores it natively; the file is inconsistent');
  const perFrame = layout.rows * layout.columns * layout.samples;
  const out = new Float64Array(perFrame * layout.frames);
  const frames = encapsulatedFrames(ds, element, layout.frames);
  frames.forEach((bytes, f) => out.set(decodeRleFrame(bytes, layout.rows, layout.columns, layout.samples, layout.bitsAllocated), f * perFrame));
  return applyBitsStored(out, layout);
}

/** Each frame's compressed bytes: located by the Basic Offset Table, or one fragment per frame. */
function encapsulatedFrames(ds: DataSet, element: PixelElement, frames: number): Uint8Array[] {
  const fragments = element.fragments ?? [];
  if (fragments.length === 0) throw new SkipError('its encapsulated pixel data holds no fragments');
  if (frames === 1) return [dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, 0, fragments.length)];
  const table = element.basicOffsetTable ?? [];
  if (table.length === frames) return Array.from({ length: frames }, (_, f) => dicomParser.readEncapsulatedImageFrame(ds, element, f));
  if (fragments.length === frames) return Array.from({ length: frames }, (_, f) => dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, f, 1));
  throw new SkipError(`its ${frames} frames span ${fragments.length} fragments without a Basic Offset Table, so frame boundaries are unknown`);
}

function toImage(ds: DataSet, raw: Float64Array, layout: PixelLayout, transferSyntax: string, path: string): DicomImage {
  // Rescale is a grey-scale transform (PS3.3 C.11.1); colour images have none.
  const grey = layout.samples === 1;
  const slope = grey ? (ds.floatString('x00281053') ?? 1) : 1;
  const intercept = grey ? (ds.floatString('x00281052') ?? 0) : 0;
  const pixels = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) pixels[i] = raw[i]! * slope + intercept;
  const ids: Record<string, string> = { path };
  for (const [name, tag] of [['SOPInstanceUID', 'x00080018'], ['StudyInstanceUID', 'x0020000d'], ['SeriesInstanceUID', 'x0020000e']] as const) {
    const value = text(ds, tag);
    if (value) ids[name] = value;
  }
  const shape = [...(layout.frames > 1 ? [layout.frames] : []), layout.rows, layout.columns, ...(layout.samples > 1 ? [layout.samples] : [])];
  return {
    path,
    rows: layout.rows,
    columns: layout.columns,
    frames: layout.frames,
    samples: layout.samples,
    pixels,
    photometric: layout.photometric,
    window: grey ? readWindow(ds) : undefined,
    ids,
    group: ids.StudyInstanceUID ?? path,
    arrayShape: shape,
    transferSyntax,
    modality: text(ds, 'x00080060') ?? '',
  };
}

function readWindow(ds: DataSet): VoiWindow | undefined {
  const center = ds.floatString('x00281050');
  const width = ds.floatString('x00281051');
  if (center === undefined || width === undefined || !Number.isFinite(center) || !(width >= 1)) return undefined;
  const fn = text(ds, 'x00281056');
  return { center, width, fn: fn === 'LINEAR_EXACT' || fn === 'SIGMOID' ? fn : 'LINEAR' };
}

/** A string value without DICOM's space/NUL padding, or undefined when absent or empty. */
function text(ds: DataSet, tag: string): string | undefined {
  const value = ds.string(tag)?.replace(/\0/g, '').trim();
  return value ? value : undefined;
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
