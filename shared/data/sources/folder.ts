/**
 * `folder:DIR`: a folder tree of PNG and JPEG images, labelled by a CSV whose identifier column is
 * `path` (relative to DIR). Other files are skipped with a line each.
 */
import { openFileFolder, type FolderSourceOptions } from './folder-files.js';
import { decodeRaster } from './raster.js';
import type { ImageSource } from './types.js';

export function openImageFolder(dir: string, options: FolderSourceOptions = {}): ImageSource {
  return openFileFolder(dir, `image folder ${dir}`, decodeRaster, options);
}
