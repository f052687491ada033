/**
 * Transfer syntaxes (PS3.5 section 10 and annex A): how a file's pixel data is encoded, and
 * whether this reader decodes it. Those it does not are named with the command that converts
 * them, so a site can fix its export instead of guessing.
 */

export const IMPLICIT_LITTLE = '1.2.840.10008.1.2';
export const EXPLICIT_LITTLE = '1.2.840.10008.1.2.1';
export const DEFLATED_LITTLE = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_BIG = '1.2.840.10008.1.2.2';
export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';

export type PixelEncoding = { kind: 'native'; littleEndian: boolean } | { kind: 'rle' } | { kind: 'unsupported'; name: string };

const COMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless (first-order prediction)',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.92': 'JPEG 2000 Part 2 Lossless',
  '1.2.840.10008.1.2.4.93': 'JPEG 2000 Part 2',
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD',
  '1.2.840.10008.1.2.4.110': 'MPEG-4 AVC/H.264 Stereo',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265',
};

export function pixelEncoding(uid: string): PixelEncoding {
  switch (uid) {
    case IMPLICIT_LITTLE:
    case EXPLICIT_LITTLE:
    case DEFLATED_LITTLE:
      return { kind: 'native', littleEndian: true };
    case EXPLICIT_BIG:
      return { kind: 'native', littleEndian: false };
    case RLE_LOSSLESS:
      return { kind: 'rle' };
    default:
      return { kind: 'unsupported', name: COMPRESSED[uid] ?? 'an unknown transfer syntax' };
  }
}

/** The skip reason for an encoding this reader does not decode. */
export function unsupportedReason(uid: string, name: string): string {
  return (
    `${name} compressed pixel data (transfer syntax ${uid}) is not decoded here; ` +
    'export the images uncompressed (for example: gdcmconv --raw IN OUT, or dcmdjpeg / dcmdjpls IN OUT from dcmtk) and add them again'
  );
}
