import type { BulkDataRef, DicomJsonAttribute, DicomJsonDataset } from '@atrium/dicom';
import type { BlobStore } from '@atrium/store';
import type { PixelModule } from './codec-tasks.js';
import { readRecordedRange, type StoredLayout } from './stored-bytes.js';

/** Attributes outside group 0028 that decoding or rendering reads. */
const EXTRA_TAGS = new Set(['00080016', '00080060', '00020010']);

/** What `pixelModuleOf` needs of an instance's recorded metadata. */
export interface PixelModuleSource extends StoredLayout {
  dataset: DicomJsonDataset;
  bulkData: readonly BulkDataRef[];
}

/**
 * The Image Pixel module and LUTs of an instance (group 0028 with its sequences, plus SOP Class and Modality) from
 * the DICOM JSON recorded at ingest; LUT values recorded as bulk data are read back from their byte ranges and put
 * inline. No file is parsed.
 */
export async function pixelModuleOf(store: BlobStore, source: PixelModuleSource): Promise<PixelModule> {
  const refs = new Map(source.bulkData.map((r) => [r.path, r]));
  async function resolve(dataset: DicomJsonDataset, prefix: string): Promise<DicomJsonDataset> {
    const out: DicomJsonDataset = {};
    for (const [tag, attribute] of Object.entries(dataset)) {
      if (prefix === '' && !tag.startsWith('0028') && !EXTRA_TAGS.has(tag)) continue;
      if (tag === '7FE00010') continue;
      out[tag] = await resolveAttribute(tag, attribute, prefix);
    }
    return out;
  }
  async function resolveAttribute(tag: string, attribute: DicomJsonAttribute, prefix: string): Promise<DicomJsonAttribute> {
    const path = `${prefix}${tag}`;
    if (attribute.vr === 'SQ' && attribute.Value) {
      const items = attribute.Value as DicomJsonDataset[];
      return { vr: 'SQ', Value: await Promise.all(items.map((item, i) => resolve(item, `${path}/${i}/`))) };
    }
    if (attribute.BulkDataURI !== undefined) {
      const ref = refs.get(path);
      if (!ref || ref.length === undefined) return { vr: attribute.vr };
      const bytes = await readRecordedRange(store, source, ref.offset, ref.length);
      return { vr: attribute.vr, InlineBinary: bytes.toString('base64') };
    }
    return attribute;
  }
  return { dataset: await resolve(source.dataset, '') };
}
