import { Readable } from 'node:stream';
import type { DicomJsonDataset } from '@atrium/dicom';
import { encodeDataset } from './dataset-codec.js';

/*
 * Synthetic DICOM for the tests of this package (house style: tests make their own data). Not exported from the
 * package entry.
 */

export const CtImageStorage = '1.2.840.10008.5.1.4.1.1.2';
export const SecondaryCaptureStorage = '1.2.840.10008.5.1.4.1.1.7';

/** A small CT-like instance as a data set (no meta). */
export function syntheticInstance(sopInstanceUid: string, transferSyntaxUid: string, pixelBytes = 64 * 64 * 2): Buffer {
  const pixels = Buffer.alloc(pixelBytes);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff;
  const ds: DicomJsonDataset = {
    '00080016': { vr: 'UI', Value: [CtImageStorage] },
    '00080018': { vr: 'UI', Value: [sopInstanceUid] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] },
    '00100020': { vr: 'LO', Value: ['PAT-001'] },
    '0020000D': { vr: 'UI', Value: ['1.2.826.0.1.3680043.10.1561.9.1'] },
    '0020000E': { vr: 'UI', Value: ['1.2.826.0.1.3680043.10.1561.9.2'] },
    '00280010': { vr: 'US', Value: [64] },
    '00280011': { vr: 'US', Value: [Math.min(65535, Math.max(1, Math.floor(pixelBytes / 128)))] },
    '00280100': { vr: 'US', Value: [16] },
    '7FE00010': { vr: 'OW', InlineBinary: pixels.toString('base64') },
  };
  return encodeDataset(ds, transferSyntaxUid);
}

/** A Part 10 file (preamble, DICM, meta group) around a data set. */
export function part10File(dataset: Buffer, sopClassUid: string, sopInstanceUid: string, transferSyntaxUid: string): Buffer {
  const meta = encodeDataset(
    {
      '00020001': { vr: 'OB', InlineBinary: Buffer.from([0, 1]).toString('base64') },
      '00020002': { vr: 'UI', Value: [sopClassUid] },
      '00020003': { vr: 'UI', Value: [sopInstanceUid] },
      '00020010': { vr: 'UI', Value: [transferSyntaxUid] },
      '00020012': { vr: 'UI', Value: ['1.2.826.0.1.3680043.10.1561.1.1'] },
    },
    '1.2.840.10008.1.2.1',
  );
  const groupLength = Buffer.alloc(12);
  groupLength.writeUInt16LE(2, 0);
  groupLength.writeUInt16LE(0, 2);
  groupLength.write('UL', 4, 'latin1');
  groupLength.writeUInt16LE(4, 6);
  groupLength.writeUInt32LE(meta.length, 8);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), groupLength, meta, dataset]);
}

/**
 * A large data set generated lazily: a small header then an OB pixel data element of `size` bytes, produced in
 * `chunk`-byte pieces only when the reader asks, so nothing holds the whole object. `produced()` counts bytes.
 */
export function lazyLargeDataset(size: number, chunk = 256 << 10): { stream: Readable; produced: () => number } {
  const header = encodeDataset(
    {
      '00080016': { vr: 'UI', Value: [SecondaryCaptureStorage] },
      '00080018': { vr: 'UI', Value: ['1.2.826.0.1.3680043.10.1561.9.99'] },
    },
    '1.2.840.10008.1.2.1',
  );
  const pixelHeader = Buffer.alloc(12);
  pixelHeader.writeUInt16LE(0x7fe0, 0);
  pixelHeader.writeUInt16LE(0x0010, 2);
  pixelHeader.write('OB', 4, 'latin1');
  pixelHeader.writeUInt32LE(size, 8);
  let sent = 0;
  let producedBytes = 0;
  let headerSent = false;
  const block = Buffer.alloc(chunk, 0x5a);
  const stream = new Readable({
    highWaterMark: chunk,
    read() {
      if (!headerSent) {
        headerSent = true;
        const h = Buffer.concat([header, pixelHeader]);
        producedBytes += h.length;
        this.push(h);
        return;
      }
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, size - sent);
      sent += n;
      producedBytes += n;
      // A fresh copy per chunk, as a file reader would give: the consumer may hold it.
      this.push(Buffer.from(block.subarray(0, n)));
    },
  });
  return { stream, produced: () => producedBytes };
}
