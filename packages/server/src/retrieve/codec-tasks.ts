import type { DicomJsonDataset } from '@atrium/dicom';

/**
 * What a codec needs of an instance besides its frames: the Image Pixel module and the LUTs that rendering uses
 * (PS3.3 §C.7.6.3, §C.11), as DICOM JSON. Values the index keeps as bulk data (palette or VOI LUT data) are put
 * back inline (`InlineBinary`), so the worker needs nothing else.
 */
export interface PixelModule {
  dataset: DicomJsonDataset;
}

export type CodecTask =
  | {
      kind: 'transcode-instance';
      /** The whole Part 10 object. */
      part10: Uint8Array;
      targetTransferSyntaxUid: string;
      parameters?: Record<string, unknown>;
    }
  | {
      kind: 'transcode-frames';
      module: PixelModule;
      transferSyntaxUid: string;
      frames: Uint8Array[];
      targetTransferSyntaxUid: string;
      parameters?: Record<string, unknown>;
    }
  | {
      kind: 'render';
      module: PixelModule;
      transferSyntaxUid: string;
      frame: Uint8Array;
      window?: { center: number; width: number };
    };

export type CodecResult =
  | { kind: 'transcode-instance'; dataset: Uint8Array }
  | { kind: 'transcode-frames'; frames: Uint8Array[]; photometricInterpretation: string }
  | { kind: 'render'; width: number; height: number; rgba: Uint8Array };
