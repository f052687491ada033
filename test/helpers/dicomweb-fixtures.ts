/**
 * DICOM Part 10 files with known content, written with dcmjs, for loading into a test PACS: each
 * instance's pixel values are given by the test, so what comes back through DICOMweb and the
 * decoder can be compared exactly.
 */
import dcmjs from 'dcmjs';

const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

export interface InstanceSpec {
  study: string;
  series: string;
  sop: string;
  patientId?: string;
  modality?: string;
  instanceNumber?: number;
  rows: number;
  columns: number;
  /** Stored values, row by row; unsigned 16-bit. */
  pixels: Uint16Array;
  bitsStored?: number;
}

/**
 * A DICOM UID under the 2.25 root (a UUID-style integer), unique per (run, kind, index) so tests
 * can name studies, series and instances without colliding.
 */
export function testUid(run: number, kind: number, index: number): string {
  return `2.25.${(BigInt(run) << 64n) | (BigInt(kind) << 32n) | BigInt(index)}`;
}

/** Writes one single-frame MONOCHROME2 Secondary Capture instance, explicit VR little endian. */
export function writeInstance(spec: InstanceSpec): Uint8Array<ArrayBuffer> {
  if (spec.pixels.length !== spec.rows * spec.columns) {
    throw new Error(`instance ${spec.sop}: ${spec.pixels.length} pixels for ${spec.rows}x${spec.columns}`);
  }
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SECONDARY_CAPTURE,
    MediaStorageSOPInstanceUID: spec.sop,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: '2.25.1',
  };
  const bits = spec.bitsStored ?? 12;
  const dataset = {
    SOPClassUID: SECONDARY_CAPTURE,
    SOPInstanceUID: spec.sop,
    StudyInstanceUID: spec.study,
    SeriesInstanceUID: spec.series,
    PatientID: spec.patientId ?? 'TEST',
    PatientName: 'Test^Patient',
    StudyDate: '20240101',
    Modality: spec.modality ?? 'OT',
    InstanceNumber: spec.instanceNumber ?? 1,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: spec.rows,
    Columns: spec.columns,
    BitsAllocated: 16,
    BitsStored: bits,
    HighBit: bits - 1,
    PixelRepresentation: 0,
    // A copy: dcmjs keeps the buffer, and the caller's array may be a view into a larger one.
    PixelData: [spec.pixels.slice().buffer],
    _vrMap: { PixelData: 'OW' },
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write() as ArrayBuffer);
}
