import type { DicomJsonDataset } from './dicom-json.js';
import type { Vr } from './vr.js';

/**
 * A value left out of the DICOM JSON because it is bulk data (pixel data, waveform data, large binary values).
 * Offsets are byte offsets in the stored object, so the value can be served as a byte range without parsing.
 */
export interface BulkDataRef {
  /**
   * Path of the element from the top-level data set: tags and item indexes joined by `/`, for example `7FE00010`
   * or `54000100/0/54001010` (Waveform Data of the first Waveform Sequence item).
   */
  readonly path: string;
  readonly vr: Vr;
  /** Offset of the first value byte (after the element header). */
  readonly offset: number;
  /** Value length in bytes; undefined for encapsulated (undefined-length) pixel data, see `PixelDataInfo`. */
  readonly length: number | undefined;
}

/** One item of encapsulated pixel data (PS3.5 §A.4), not counting the Basic Offset Table item. */
export interface Fragment {
  /** Offset of the first value byte of the item. */
  readonly offset: number;
  readonly length: number;
}

/** Where one frame's bytes are: a single range for native pixel data, one or more fragments when encapsulated. */
export interface FrameRef {
  readonly fragments: readonly Fragment[];
}

export interface PixelDataInfo {
  readonly encapsulated: boolean;
  /** Offset of the first value byte (native) or of the Basic Offset Table item's value (encapsulated). */
  readonly offset: number;
  /** Value length for native pixel data; the sum of fragment lengths for encapsulated. */
  readonly length: number;
  readonly vr: Vr;
  /** Encapsulated only: the fragments in order. */
  readonly fragments: readonly Fragment[];
  /** Encapsulated only: Basic Offset Table entries (PS3.5 §A.4), empty when the table is empty. */
  readonly basicOffsetTable: readonly number[];
}

/**
 * What the streaming Part 10 reader learns from one object. Everything here is small: bulk values are described
 * by reference, never held.
 */
export interface ParsedInstance {
  /** Group 0002 (PS3.10 §7.1); empty when the object was read as a bare data set (DIMSE). */
  readonly fileMetaInformation: DicomJsonDataset;
  /** Every other top-level attribute; bulk values carry a `BulkDataURI` made by the reader's `bulkDataUri` option. */
  readonly dataset: DicomJsonDataset;
  readonly transferSyntaxUid: string;
  /** True when the data set was deflated: offsets then count bytes of the inflated data set, not of the file. */
  readonly deflated: boolean;
  /** Offset of the first byte of the data set after the file meta information. */
  readonly datasetOffset: number;
  readonly bulkData: readonly BulkDataRef[];
  readonly pixelData: PixelDataInfo | undefined;
  /** Frames located from Number of Frames and the pixel data layout; empty when there is no pixel data. */
  readonly frames: readonly FrameRef[];
  /** Total bytes read. */
  readonly byteLength: number;
  /**
   * What the reader tolerated and repaired (a mislabelled VR encoding, an unknown character set term, a stray
   * delimiter): the object was read, but a validator may want to say so.
   */
  readonly warnings?: readonly string[];
}
