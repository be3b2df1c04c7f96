// Synthetic objects for retrieve tests that the builders of @atrium/dicom do not make.
import { encodePart10, ImplicitVrLittleEndian, type WritableDataset } from '@atrium/dicom';

/** Segmentation Storage (PS3.4 Annex B). */
export const SegmentationStorage = '1.2.840.10008.5.1.4.1.1.66.4';

export interface BinarySegmentation {
  bytes: Uint8Array;
  /** The packed 1-bit frames as stored (PS3.5 §8.1.1: bit 0 of the first byte is the first pixel). */
  pixelData: Uint8Array;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/**
 * A BINARY Segmentation (PS3.3 §C.8.20.2: Bits Allocated 1) of `frames` frames, with a disc on each frame, in
 * Implicit VR Little Endian by default: the kind of object the pixel codecs refuse to re-encode.
 */
export function buildBinarySegmentation(
  options: {
    studyInstanceUid?: string;
    /** Patient module attributes (group 0010) replacing the defaults, to file the SEG under an existing patient. */
    patient?: WritableDataset;
    rows?: number;
    columns?: number;
    frames?: number;
    transferSyntaxUid?: string;
    seed?: number;
  } = {},
): BinarySegmentation {
  const { rows = 16, columns = 16, frames = 3, transferSyntaxUid = ImplicitVrLittleEndian, seed = 1 } = options;
  const root = `1.2.826.0.1.3680043.8.498.${seed}`;
  const studyInstanceUid = options.studyInstanceUid ?? `${root}.1`;
  const seriesInstanceUid = `${root}.2`;
  const sopInstanceUid = `${root}.3`;
  const bits = rows * columns * frames;
  const packed = new Uint8Array(Math.ceil(bits / 8) + (Math.ceil(bits / 8) % 2));
  for (let f = 0; f < frames; f++) {
    const radius = (Math.min(rows, columns) / 2) * ((f + 1) / (frames + 1));
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        if ((x - columns / 2) ** 2 + (y - rows / 2) ** 2 > radius ** 2) continue;
        const bit = f * rows * columns + y * columns + x;
        packed[bit >> 3]! |= 1 << (bit & 7);
      }
    }
  }
  const bytes = encodePart10({
    transferSyntaxUid,
    dataset: {
      '00080016': { vr: 'UI', Value: [SegmentationStorage] },
      '00080018': { vr: 'UI', Value: [sopInstanceUid] },
      '00080060': { vr: 'CS', Value: ['SEG'] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Segment^Sam' }] },
      '00100020': { vr: 'LO', Value: ['PID-SEG'] },
      ...options.patient,
      '0020000D': { vr: 'UI', Value: [studyInstanceUid] },
      '0020000E': { vr: 'UI', Value: [seriesInstanceUid] },
      '00200011': { vr: 'IS', Value: [99] },
      '00200013': { vr: 'IS', Value: [1] },
      '00280002': { vr: 'US', Value: [1] },
      '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
      '00280008': { vr: 'IS', Value: [frames] },
      '00280010': { vr: 'US', Value: [rows] },
      '00280011': { vr: 'US', Value: [columns] },
      '00280100': { vr: 'US', Value: [1] },
      '00280101': { vr: 'US', Value: [1] },
      '00280102': { vr: 'US', Value: [0] },
      '00280103': { vr: 'US', Value: [0] },
      '00620001': { vr: 'CS', Value: ['BINARY'] },
      '7FE00010': { vr: 'OW', Bytes: packed },
    },
  });
  return { bytes, pixelData: packed, studyInstanceUid, seriesInstanceUid, sopInstanceUid };
}
