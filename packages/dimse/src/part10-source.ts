import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DicomParseError } from '@atrium/dicom';
import { decodeDataset } from './dataset-codec.js';

/** What a C-STORE SCU needs from a stored Part 10 file (PS3.10 §7.1). */
export interface Part10Source {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** Byte offset of the data set: after the preamble, prefix and file meta information group. */
  datasetOffset: number;
  /** A fresh stream of the data set bytes (each call opens the file again). */
  open: () => Readable;
}

/**
 * Reads the file meta information of a Part 10 file and returns where its data set starts, so it can be sent
 * as is over DIMSE without reading the rest into memory.
 */
export async function openPart10File(path: string): Promise<Part10Source> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(144);
    const { bytesRead } = await handle.read(head, 0, 144, 0);
    if (bytesRead < 144 || head.toString('latin1', 128, 132) !== 'DICM') {
      throw new DicomParseError(`Cannot read Part 10 file '${path}': no DICM prefix at offset 128`, { offset: 128 }, 'ATRIUM_ERR_DICOM_NOT_PART10');
    }
    // (0002,0000) File Meta Information Group Length, UL, explicit VR: its value says where the group ends.
    if (head.readUInt16LE(132) !== 0x0002 || head.readUInt16LE(134) !== 0x0000) {
      throw new DicomParseError(`Cannot read Part 10 file '${path}': the meta group does not start with its group length`, { offset: 132 });
    }
    const groupLength = head.readUInt32LE(140);
    if (groupLength > 1 << 20) {
      throw new DicomParseError(`Cannot read Part 10 file '${path}': meta group length ${groupLength} is implausible`, { offset: 140 });
    }
    const meta = Buffer.alloc(groupLength);
    await handle.read(meta, 0, groupLength, 144);
    const ds = decodeDataset(meta, '1.2.840.10008.1.2.1');
    const text = (tag: string) => {
      const v = ds[tag]?.Value?.[0];
      return typeof v === 'string' ? v : '';
    };
    const datasetOffset = 144 + groupLength;
    return {
      sopClassUid: text('00020002'),
      sopInstanceUid: text('00020003'),
      transferSyntaxUid: text('00020010'),
      datasetOffset,
      open: () => createReadStream(path, { start: datasetOffset, highWaterMark: 256 << 10 }),
    };
  } finally {
    await handle.close();
  }
}
