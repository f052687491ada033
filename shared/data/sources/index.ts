/**
 * Site data sources: naming one (`--data`), decoding what it holds (DICOM, NIfTI, PNG/JPEG, and a
 * PACS over DICOMweb), labels from a CSV, the model's input, and `medley data inspect`'s report.
 */
export type { DecodedImage, ImageSource, SkippedInput, SourceItem, VoiWindow } from './types.js';
export { parseSourceSpec, formatSourceSpec, SourceSpecError, SOURCE_FORMS, TASK_SOURCE_FORMS, KINDS_WITH_CSV_LABELS, type SourceSpec, type SourceKind, type SyntheticForm } from './source-spec.js';
export { decodeDicomPart10, type DicomDecodeResult, type DicomImage } from './dicom/part10.js';
export { openDicomFolder } from './dicom.js';
export { openImageFolder } from './folder.js';
export { openNiftiFolder } from './nifti.js';
export { decodeNifti, type NiftiVolume } from './nifti-volume.js';
export { decodeRaster } from './raster.js';
export { listFiles, DEFAULT_LABELS_FILE, SourceFolderError, type FolderSourceOptions } from './folder-files.js';
export { openImageSource, isImageSource, labelsFileFor, type ImageSourceSpec, type OpenSourceOptions } from './open-source.js';
export { readLabelTable, parseLabelTable, LabelsCsvError, ID_COLUMNS, type LabelTable, type LabelRow, type IdColumn, type Split } from './labels-csv.js';
export { modelInput, middleFrame, parseWindow, applyVoi, DEFAULT_WINDOW, type WindowChoice, type InputShape } from './model-input.js';
export { resizeBilinear } from './resize.js';
export { readLabelledExamples, type LabelledExamples, type ReadExamplesOptions, type ModelInputFrame } from './labelled-examples.js';
export { labelledShards, labelledHeldOut, VALIDATION_FRACTION } from './site-split.js';
export { inspectSource, inspectArrays, describeWindow, type InspectReport, type InspectOptions, type InspectedImage } from './inspect.js';
