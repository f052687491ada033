/**
 * `dicom:DIR`: a folder tree of DICOM files (Part 10, or bare data sets), named however the
 * exporting system named them (often without an extension). Every file is tried; what is not a
 * decodable image is skipped with its reason.
 */
import { decodeDicomPart10 } from './dicom/part10.js';
import { openFileFolder, type FolderSourceOptions } from './folder-files.js';
import type { ImageSource } from './types.js';

export function openDicomFolder(dir: string, options: FolderSourceOptions = {}): ImageSource {
  return openFileFolder(dir, `DICOM folder ${dir}`, decodeDicomPart10, options);
}
