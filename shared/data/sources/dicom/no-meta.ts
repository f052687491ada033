/**
 * Files without the Part 10 preamble and meta header (raw data sets as some older systems and
 * network dumps write them) do not say how they are encoded. The first data element does: its
 * group number in one byte order or the other, and two capital letters after the tag when the VR
 * is explicit. Anything else is not taken for DICOM.
 */
import { EXPLICIT_BIG, EXPLICIT_LITTLE, IMPLICIT_LITTLE } from './transfer-syntax.js';

const VRS = new Set(
  'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '),
);

/** True when `bytes` carries the "DICM" marker of a Part 10 file at byte 128. */
export function hasPart10Marker(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** The transfer syntax a meta-less data set is written in, or undefined when it does not look like DICOM. */
export function guessTransferSyntax(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8) return undefined;
  const little = bytes[0]! | (bytes[1]! << 8);
  const big = (bytes[0]! << 8) | bytes[1]!;
  const explicit = VRS.has(String.fromCharCode(bytes[4]!, bytes[5]!));
  // A data set is sorted by tag, and every image carries group 0008 (SOP Class, SOP Instance);
  // a meta group (0002) written without its preamble also appears. Nothing else starts one.
  const starts = (group: number) => group === 0x0002 || group === 0x0008;
  if (explicit && starts(little)) return EXPLICIT_LITTLE;
  if (explicit && starts(big)) return EXPLICIT_BIG;
  if (!explicit && starts(little)) {
    const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true);
    if (length === 0xffffffff || length <= bytes.length - 8) return IMPLICIT_LITTLE;
  }
  return undefined;
}
