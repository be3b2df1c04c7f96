import { ExplicitVrLittleEndian, lookupTransferSyntax } from '@atrium/dicom';
import { parseAccept, type MediaRange } from '../multipart/media-type.js';

/**
 * Media types of compressed pixel data and their transfer syntaxes, the first being the default when the
 * `transfer-syntax` parameter is absent (PS3.18 §8.7.3.5.2, Table 8.7.3-5).
 */
export const PIXEL_MEDIA_TYPES: Readonly<Record<string, readonly string[]>> = {
  'image/jpeg': ['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70'],
  'image/jls': ['1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81'],
  'image/jp2': ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91'],
  'image/jpx': ['1.2.840.10008.1.2.4.92', '1.2.840.10008.1.2.4.93'],
  'image/jxl': ['1.2.840.10008.1.2.4.110', '1.2.840.10008.1.2.4.111', '1.2.840.10008.1.2.4.112'],
  'image/jphc': ['1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.202', '1.2.840.10008.1.2.4.203'],
  'image/dicom-rle': ['1.2.840.10008.1.2.5'],
  'image/x-dicom-rle': ['1.2.840.10008.1.2.5'],
  'video/mpeg': ['1.2.840.10008.1.2.4.100', '1.2.840.10008.1.2.4.100.1', '1.2.840.10008.1.2.4.101', '1.2.840.10008.1.2.4.101.1'],
  'video/mp4': [
    '1.2.840.10008.1.2.4.102', '1.2.840.10008.1.2.4.102.1', '1.2.840.10008.1.2.4.103', '1.2.840.10008.1.2.4.103.1',
    '1.2.840.10008.1.2.4.104', '1.2.840.10008.1.2.4.104.1', '1.2.840.10008.1.2.4.105', '1.2.840.10008.1.2.4.105.1',
    '1.2.840.10008.1.2.4.106', '1.2.840.10008.1.2.4.106.1',
  ],
  'video/h265': ['1.2.840.10008.1.2.4.107', '1.2.840.10008.1.2.4.108'],
};

/** The media type of stored pixel data in a transfer syntax: octet-stream for native, the codec's type otherwise. */
export function pixelMediaTypeOf(transferSyntaxUid: string): string {
  const ts = lookupTransferSyntax(transferSyntaxUid);
  if (!ts || !ts.encapsulated) return 'application/octet-stream';
  for (const [type, uids] of Object.entries(PIXEL_MEDIA_TYPES)) if (uids.includes(transferSyntaxUid)) return type;
  return 'application/octet-stream';
}

/** One acceptable way to send pixel data: the part's media type and a transfer syntax (`*`: as stored). */
export interface PixelChoice {
  mediaType: string;
  transferSyntaxUid: string;
  /** The client accepts a bare (single-part) body, not only multipart/related. */
  singlePart: boolean;
}

function choicesOf(range: MediaRange, type: string | undefined, singlePart: boolean): PixelChoice[] {
  const ts = range.parameters['transfer-syntax'];
  if (!type || type === '*/*' || type === 'application/octet-stream') {
    return [{ mediaType: 'application/octet-stream', transferSyntaxUid: ts ?? ExplicitVrLittleEndian, singlePart }];
  }
  const uids = PIXEL_MEDIA_TYPES[type];
  if (!uids) return [];
  if (ts) return [{ mediaType: type, transferSyntaxUid: ts === '*' ? '*' : ts, singlePart }];
  return [{ mediaType: type, transferSyntaxUid: uids[0]!, singlePart }];
}

/**
 * What a frames or bulk data request accepts, in the client's order of preference (PS3.18 §8.7.3.5): multipart
 * parts of octet-stream (native, Explicit VR Little Endian by default) or of an image/video media type, or a bare
 * body of one of those.
 */
export function pixelChoicesOf(accept: string | string[] | undefined): PixelChoice[] {
  const out: PixelChoice[] = [];
  for (const range of parseAccept(accept)) {
    if (range.essence === 'multipart/related') out.push(...choicesOf(range, range.parameters.type?.toLowerCase(), false));
    else if (range.essence === '*/*') out.push(...choicesOf(range, undefined, false));
    else out.push(...choicesOf(range, range.essence, true));
  }
  return out;
}
