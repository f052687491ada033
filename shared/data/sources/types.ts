/**
 * What every kind of site data source (a DICOM folder, a PACS over DICOMweb, NIfTI volumes, a
 * folder of PNG/JPEG) hands on: decoded images one at a time, and the inputs it had to skip.
 * Everything after this point (labels, windowing, resizing, splits, `medley data inspect`) is
 * shared, so a new kind is one file that turns its inputs into these records.
 */

/** One decoded image (a DICOM instance, a NIfTI volume, a PNG), before any windowing or resizing. */
export interface DecodedImage {
  /** Where it came from: a path relative to the source's folder (or an instance's address for a PACS). */
  readonly path: string;
  readonly rows: number;
  readonly columns: number;
  /** Frames (DICOM multi-frame) or slices (NIfTI, along the last axis); 1 for a plain image. */
  readonly frames: number;
  /** Samples per pixel: 1 for grey, 3 for colour. */
  readonly samples: number;
  /**
   * Stored values after the modality transform (DICOM rescale slope/intercept, NIfTI scl_slope),
   * frame by frame, row by row, samples interleaved: index ((f * rows + r) * columns + c) * samples + s.
   */
  readonly pixels: Float32Array;
  /**
   * How to read the samples, in DICOM's words: MONOCHROME2 (higher is brighter), MONOCHROME1
   * (higher is darker), RGB, YBR_FULL, YBR_FULL_422 (Y first, then Cb, Cr, already one triple per pixel).
   */
  readonly photometric: string;
  /** The source's own display window (DICOM VOI window centre/width, first value), when it has one. */
  readonly window?: VoiWindow;
  /**
   * Names a labels CSV may use for this image, by identifier column: `path` always; DICOM adds
   * `SOPInstanceUID`, `StudyInstanceUID` and `SeriesInstanceUID` when the file has them.
   */
  readonly ids: Readonly<Record<string, string>>;
  /** Images that must stay on one side of a train/validation split (a DICOM study, a NIfTI volume). */
  readonly group: string;
  /**
   * A label mask aligned with `pixels` (one value per pixel of every frame, 0 = background), for
   * sources that carry one (NIfTI image/mask pairs).
   */
  readonly mask?: Int32Array;
  /**
   * The shape `pixels` has for another tool, outermost first (what NumPy would show): DICOM follows
   * pydicom (frames only when more than one, samples only when more than one).
   */
  readonly arrayShape: readonly number[];
}

/** A DICOM VOI window: values at centre -/+ width/2 map to the darkest / brightest output. */
export interface VoiWindow {
  readonly center: number;
  readonly width: number;
  /** DICOM VOI LUT Function: LINEAR (the default), LINEAR_EXACT or SIGMOID. */
  readonly fn?: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
}

/** An input the source could not use, and why, in words a site's IT person can act on. */
export interface SkippedInput {
  readonly path: string;
  readonly reason: string;
}

export type SourceItem = { readonly image: DecodedImage } | { readonly skipped: SkippedInput };

/** An opened source: its inputs, decoded lazily so only one full-resolution image is held at a time. */
export interface ImageSource {
  /** Human-readable description for logs, e.g. "DICOM folder /data/cxr". */
  readonly description: string;
  /**
   * Which frames of a multi-frame image become training examples: `middle` (one example per image,
   * as when a CSV labels whole files or studies: DICOM) or `each` (every frame is its own example,
   * as for the slices of a NIfTI volume, each labelled by its own mask).
   */
  readonly frames: 'middle' | 'each';
  items(signal?: AbortSignal): AsyncIterable<SourceItem>;
}
