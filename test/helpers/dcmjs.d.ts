/**
 * dcmjs ships no type declarations and there is no @types package for it. The test helpers
 * (dicom-files.ts, dicomweb-fixtures.ts) write DICOM files with it; this declares the part of its
 * API they use. Only tsconfig.test.json sees it: no non-test source imports dcmjs.
 */
declare module 'dcmjs' {
  /** A dataset in dcmjs's DICOM JSON form: tag (e.g. "00080018") -> { vr, Value }. */
  type DenaturalizedDataset = Record<string, unknown>;

  class DicomDict {
    constructor(meta: DenaturalizedDataset);
    meta: DenaturalizedDataset;
    dict: DenaturalizedDataset;
    /** The Part 10 file: preamble, "DICM", file meta group, then the dataset. */
    write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
  }

  const DicomMetaDictionary: {
    /** Keyword-named values (e.g. { SOPInstanceUID: "1.2.3" }, `_vrMap` for VR overrides) to DICOM JSON. */
    denaturalizeDataset(dataset: Record<string, unknown>): DenaturalizedDataset;
  };

  const dcmjs: {
    data: {
      DicomDict: typeof DicomDict;
      DicomMetaDictionary: typeof DicomMetaDictionary;
    };
  };
  export default dcmjs;
}
