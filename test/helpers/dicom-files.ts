/**
 * DICOM files with chosen pixel modules, written with dcmjs (explicit VR little endian), for
 * decoder tests whose expected values are computed independently of the decoder.
 */
import dcmjs from 'dcmjs';

const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

export interface DicomSpec {
  sop: string;
  study?: string;
  series?: string;
  modality?: string;
  rows: number;
  columns: number;
  frames?: number;
  samples?: 1 | 3;
  planar?: 0 | 1;
  photometric?: string;
  bitsAllocated: 8 | 16;
  bitsStored?: number;
  highBit?: number;
  signed?: boolean;
  /** The stored cells exactly as written (any bits outside Bits Stored included), frame by frame. */
  cells: ArrayLike<number>;
  slope?: number;
  intercept?: number;
  window?: { center: number; width: number; fn?: string };
}

export function dicomFile(spec: DicomSpec): Uint8Array {
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const frames = spec.frames ?? 1;
  const samples = spec.samples ?? 1;
  const expected = spec.rows * spec.columns * frames * samples;
  if (spec.cells.length !== expected) throw new Error(`${spec.sop}: ${spec.cells.length} cells for ${expected}`);
  const bitsStored = spec.bitsStored ?? spec.bitsAllocated;
  const cells = spec.bitsAllocated === 8 ? Uint8Array.from(spec.cells) : Uint16Array.from(spec.cells, (v) => v & 0xffff);
  const dataset: Record<string, unknown> = {
    SOPClassUID: SECONDARY_CAPTURE,
    SOPInstanceUID: spec.sop,
    StudyInstanceUID: spec.study ?? `${spec.sop}.1`,
    SeriesInstanceUID: spec.series ?? `${spec.sop}.2`,
    Modality: spec.modality ?? 'OT',
    SamplesPerPixel: samples,
    PhotometricInterpretation: spec.photometric ?? (samples === 1 ? 'MONOCHROME2' : 'RGB'),
    Rows: spec.rows,
    Columns: spec.columns,
    BitsAllocated: spec.bitsAllocated,
    BitsStored: bitsStored,
    HighBit: spec.highBit ?? bitsStored - 1,
    PixelRepresentation: spec.signed ? 1 : 0,
    PixelData: [cells.buffer],
    _vrMap: { PixelData: spec.bitsAllocated === 8 ? 'OB' : 'OW' },
  };
  if (frames > 1) dataset.NumberOfFrames = String(frames);
  if (samples === 3) dataset.PlanarConfiguration = spec.planar ?? 0;
  if (spec.slope !== undefined) dataset.RescaleSlope = String(spec.slope);
  if (spec.intercept !== undefined) dataset.RescaleIntercept = String(spec.intercept);
  if (spec.window) {
    dataset.WindowCenter = String(spec.window.center);
    dataset.WindowWidth = String(spec.window.width);
    if (spec.window.fn) dataset.VOILUTFunction = spec.window.fn;
  }
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SECONDARY_CAPTURE,
    MediaStorageSOPInstanceUID: spec.sop,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '2.25.7',
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write() as ArrayBuffer);
}

/** The same data set without the 128-byte preamble, "DICM" and the meta group, as old systems write. */
export function withoutMeta(part10: Uint8Array): Uint8Array {
  const view = new DataView(part10.buffer, part10.byteOffset, part10.byteLength);
  // (0002,0000) group length is the first meta element: tag, "UL", length 4, value.
  const groupLength = view.getUint32(132 + 8, true);
  return part10.slice(132 + 12 + groupLength);
}
