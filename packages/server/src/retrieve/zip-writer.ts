import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';

/** One file of a ZIP archive: its name inside the archive and a way to open its bytes when their turn comes. */
export interface ZipEntry {
  /** Forward slashes, no leading slash (APPNOTE 4.4.17). */
  name: string;
  open(): Promise<Readable> | Readable;
}

interface CentralRecord {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
}

const U32_MAX = 0xffffffff;
/** Bit 3: sizes and CRC follow the data in a data descriptor; bit 11: the name is UTF-8 (APPNOTE 4.4.4). */
const FLAGS = (1 << 3) | (1 << 11);
/** 4.5 = ZIP64 (APPNOTE 4.4.3.2); always announced so a reader never needs to guess. */
const VERSION = 45;
/** 1980-01-01 00:00, the earliest MS-DOS date: entries carry no meaningful time and the archive stays reproducible. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * A ZIP archive (PKWARE APPNOTE 6.3) of the entries, stored without compression (DICOM pixel data is compressed
 * already or barely compressible, and storing keeps the CPU free), produced as a stream: each entry is opened only
 * when the previous one is written, so memory stays flat whatever the study's size. ZIP64 records are written when
 * an entry or the archive passes 4 GiB.
 */
export async function* zipStream(entries: AsyncIterable<ZipEntry> | Iterable<ZipEntry>): AsyncGenerator<Buffer> {
  const records: CentralRecord[] = [];
  let offset = 0;
  for await (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION, 4);
    local.writeUInt16LE(FLAGS, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    // CRC and sizes are zero here and given in the data descriptor (flag bit 3).
    local.writeUInt16LE(name.length, 26);
    const record: CentralRecord = { name, crc: 0, size: 0, offset };
    yield local;
    yield name;
    offset += local.length + name.length;
    let crc = 0;
    let size = 0;
    for await (const chunk of await entry.open()) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      crc = crc32(bytes, crc);
      size += bytes.length;
      yield bytes;
    }
    offset += size;
    record.crc = crc;
    record.size = size;
    records.push(record);
    // A ZIP64 data descriptor has 8-byte sizes (APPNOTE 4.3.9.1): used when the entry needs ZIP64.
    const zip64 = size >= U32_MAX || record.offset >= U32_MAX;
    const descriptor = Buffer.alloc(zip64 ? 24 : 16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc, 4);
    if (zip64) {
      descriptor.writeBigUInt64LE(BigInt(size), 8);
      descriptor.writeBigUInt64LE(BigInt(size), 16);
    } else {
      descriptor.writeUInt32LE(size, 8);
      descriptor.writeUInt32LE(size, 12);
    }
    yield descriptor;
    offset += descriptor.length;
  }

  const centralStart = offset;
  for (const record of records) {
    const needsSize = record.size >= U32_MAX;
    const needsOffset = record.offset >= U32_MAX;
    const extra = needsSize || needsOffset ? zip64Extra(record, needsSize, needsOffset) : Buffer.alloc(0);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | VERSION, 4); // made by: UNIX, so readers take the name as a path with '/'
    header.writeUInt16LE(VERSION, 6);
    header.writeUInt16LE(FLAGS, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(DOS_TIME, 12);
    header.writeUInt16LE(DOS_DATE, 14);
    header.writeUInt32LE(record.crc, 16);
    header.writeUInt32LE(needsSize ? U32_MAX : record.size, 20);
    header.writeUInt32LE(needsSize ? U32_MAX : record.size, 24);
    header.writeUInt16LE(record.name.length, 28);
    header.writeUInt16LE(extra.length, 30);
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
    header.writeUInt32LE(needsOffset ? U32_MAX : record.offset, 42);
    yield header;
    yield record.name;
    if (extra.length > 0) yield extra;
    offset += header.length + record.name.length + extra.length;
  }
  const centralSize = offset - centralStart;

  const needsZip64 = records.length >= 0xffff || centralStart >= U32_MAX || centralSize >= U32_MAX;
  if (needsZip64) {
    const end64 = Buffer.alloc(56);
    end64.writeUInt32LE(0x06064b50, 0);
    end64.writeBigUInt64LE(44n, 4); // size of the rest of this record
    end64.writeUInt16LE(VERSION, 12);
    end64.writeUInt16LE(VERSION, 14);
    end64.writeBigUInt64LE(BigInt(records.length), 24);
    end64.writeBigUInt64LE(BigInt(records.length), 32);
    end64.writeBigUInt64LE(BigInt(centralSize), 40);
    end64.writeBigUInt64LE(BigInt(centralStart), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset), 8);
    locator.writeUInt32LE(1, 16);
    yield end64;
    yield locator;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(records.length, 0xffff), 8);
  end.writeUInt16LE(Math.min(records.length, 0xffff), 10);
  end.writeUInt32LE(Math.min(centralSize, U32_MAX), 12);
  end.writeUInt32LE(Math.min(centralStart, U32_MAX), 16);
  yield end;
}

/** The ZIP64 extended information extra field (APPNOTE 4.5.3): only the values the header marked 0xFFFFFFFF. */
function zip64Extra(record: CentralRecord, size: boolean, offset: boolean): Buffer {
  const values: bigint[] = [];
  if (size) values.push(BigInt(record.size), BigInt(record.size));
  if (offset) values.push(BigInt(record.offset));
  const extra = Buffer.alloc(4 + values.length * 8);
  extra.writeUInt16LE(0x0001, 0);
  extra.writeUInt16LE(values.length * 8, 2);
  values.forEach((v, i) => extra.writeBigUInt64LE(v, 4 + i * 8));
  return extra;
}
