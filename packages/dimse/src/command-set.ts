import { DimseProtocolError } from './errors.js';

/** Command Field values (PS3.7 §9.3, §10.3, Annex E). */
export const CommandField = {
  CStoreRq: 0x0001,
  CStoreRsp: 0x8001,
  CGetRq: 0x0010,
  CGetRsp: 0x8010,
  CFindRq: 0x0020,
  CFindRsp: 0x8020,
  CMoveRq: 0x0021,
  CMoveRsp: 0x8021,
  CEchoRq: 0x0030,
  CEchoRsp: 0x8030,
  NEventReportRq: 0x0100,
  NEventReportRsp: 0x8100,
  NGetRq: 0x0110,
  NGetRsp: 0x8110,
  NSetRq: 0x0120,
  NSetRsp: 0x8120,
  NActionRq: 0x0130,
  NActionRsp: 0x8130,
  NCreateRq: 0x0140,
  NCreateRsp: 0x8140,
  NDeleteRq: 0x0150,
  NDeleteRsp: 0x8150,
  CCancelRq: 0x0fff,
} as const;

/** Priority (0000,0700), PS3.7 §9.1.1.1.5. */
export const Priority = { Medium: 0x0000, High: 0x0001, Low: 0x0002 } as const;

/** (0000,0800) value meaning "no data set follows" (PS3.7 §9.3, Table E.1-1). */
export const NoDataSet = 0x0101;

/**
 * A DIMSE command set (PS3.7 Annex E, Table E.1-1), group 0000 only. Field names spell the standard's keywords.
 * `hasDataset` is (0000,0800) Command Data Set Type read as a flag.
 */
export interface CommandSet {
  commandField: number;
  hasDataset: boolean;
  messageId?: number | undefined;
  messageIdBeingRespondedTo?: number | undefined;
  affectedSopClassUid?: string | undefined;
  requestedSopClassUid?: string | undefined;
  affectedSopInstanceUid?: string | undefined;
  requestedSopInstanceUid?: string | undefined;
  priority?: number | undefined;
  status?: number | undefined;
  offendingElement?: readonly number[] | undefined;
  errorComment?: string | undefined;
  errorId?: number | undefined;
  moveDestination?: string | undefined;
  moveOriginatorApplicationEntityTitle?: string | undefined;
  moveOriginatorMessageId?: number | undefined;
  eventTypeId?: number | undefined;
  actionTypeId?: number | undefined;
  attributeIdentifierList?: readonly number[] | undefined;
  numberOfRemainingSuboperations?: number | undefined;
  numberOfCompletedSuboperations?: number | undefined;
  numberOfFailedSuboperations?: number | undefined;
  numberOfWarningSuboperations?: number | undefined;
}

type Kind = 'UI' | 'US' | 'AE' | 'LO' | 'AT';

/** The command elements this package reads and writes, in ascending tag order as PS3.5 §7.1 requires. */
const ELEMENTS: readonly (readonly [number, Kind, keyof CommandSet])[] = [
  [0x00000002, 'UI', 'affectedSopClassUid'],
  [0x00000003, 'UI', 'requestedSopClassUid'],
  [0x00000100, 'US', 'commandField'],
  [0x00000110, 'US', 'messageId'],
  [0x00000120, 'US', 'messageIdBeingRespondedTo'],
  [0x00000600, 'AE', 'moveDestination'],
  [0x00000700, 'US', 'priority'],
  [0x00000800, 'US', 'hasDataset'],
  [0x00000900, 'US', 'status'],
  [0x00000901, 'AT', 'offendingElement'],
  [0x00000902, 'LO', 'errorComment'],
  [0x00000903, 'US', 'errorId'],
  [0x00001000, 'UI', 'affectedSopInstanceUid'],
  [0x00001001, 'UI', 'requestedSopInstanceUid'],
  [0x00001002, 'US', 'eventTypeId'],
  [0x00001005, 'AT', 'attributeIdentifierList'],
  [0x00001008, 'US', 'actionTypeId'],
  [0x00001020, 'US', 'numberOfRemainingSuboperations'],
  [0x00001021, 'US', 'numberOfCompletedSuboperations'],
  [0x00001022, 'US', 'numberOfFailedSuboperations'],
  [0x00001023, 'US', 'numberOfWarningSuboperations'],
  [0x00001030, 'AE', 'moveOriginatorApplicationEntityTitle'],
  [0x00001031, 'US', 'moveOriginatorMessageId'],
];

const BY_TAG = new Map(ELEMENTS.map(([tag, kind, key]) => [tag, { kind, key }]));

function textValue(value: string, kind: Kind): Buffer {
  let text = value;
  if (text.length % 2 === 1) text += kind === 'UI' ? '\0' : ' ';
  return Buffer.from(text, 'latin1');
}

/**
 * Encodes a command set in Implicit VR Little Endian with its (0000,0000) group length first (PS3.7 §6.3.1).
 * Hand-rolled because it runs once per message on the hot path and needs none of a general writer's machinery.
 */
export function encodeCommandSet(command: CommandSet): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (const [tag, kind, key] of ELEMENTS) {
    const raw = command[key];
    if (raw === undefined) continue;
    let value: Buffer;
    if (key === 'hasDataset') {
      value = Buffer.allocUnsafe(2);
      // 0x0000 is what DCMTK and most toolkits send for "a data set follows"; any value but 0x0101 means that.
      value.writeUInt16LE(raw ? 0x0000 : NoDataSet);
    } else if (kind === 'US') {
      value = Buffer.allocUnsafe(2);
      value.writeUInt16LE((raw as number) & 0xffff);
    } else if (kind === 'AT') {
      const tags = raw as readonly number[];
      value = Buffer.allocUnsafe(4 * tags.length);
      tags.forEach((t, i) => {
        value.writeUInt16LE(t >>> 16, 4 * i);
        value.writeUInt16LE(t & 0xffff, 4 * i + 2);
      });
    } else {
      value = textValue(raw as string, kind);
    }
    const header = Buffer.allocUnsafe(8);
    header.writeUInt16LE(0, 0);
    header.writeUInt16LE(tag & 0xffff, 2);
    header.writeUInt32LE(value.length, 4);
    parts.push(header, value);
    size += 8 + value.length;
  }
  const groupLength = Buffer.allocUnsafe(12);
  groupLength.writeUInt32LE(0x00000000, 0);
  groupLength.writeUInt32LE(4, 4);
  groupLength.writeUInt32LE(size, 8);
  return Buffer.concat([groupLength, ...parts], 12 + size);
}

function trimText(buf: Buffer, start: number, end: number): string {
  let e = end;
  while (e > start && (buf[e - 1] === 0 || buf[e - 1] === 0x20)) e--;
  let s = start;
  while (s < e && buf[s] === 0x20) s++;
  return buf.toString('latin1', s, e);
}

/**
 * Decodes a command set (Implicit VR Little Endian, group 0000). Elements this package does not know are skipped;
 * elements outside group 0000 are a protocol error, as is a missing Command Field.
 */
export function decodeCommandSet(buf: Buffer): CommandSet {
  const out: Record<string, unknown> = { hasDataset: false };
  let seenField = false;
  let pos = 0;
  while (pos < buf.length) {
    if (pos + 8 > buf.length) {
      throw new DimseProtocolError(`Cannot read command set: element header at offset ${pos} is truncated`, {
        code: 'ATRIUM_ERR_DIMSE_COMMAND',
      });
    }
    const group = buf.readUInt16LE(pos);
    const element = buf.readUInt16LE(pos + 2);
    const length = buf.readUInt32LE(pos + 4);
    const start = pos + 8;
    const end = start + length;
    if (group !== 0 || end > buf.length) {
      throw new DimseProtocolError(
        `Cannot read command set: element (${group.toString(16).padStart(4, '0')},${element
          .toString(16)
          .padStart(4, '0')}) at offset ${pos} is ${group !== 0 ? 'outside group 0000' : 'truncated'}`,
        { code: 'ATRIUM_ERR_DIMSE_COMMAND' },
      );
    }
    const known = BY_TAG.get(element);
    if (known) {
      const { kind, key } = known;
      if (kind === 'US') {
        if (length < 2) {
          throw new DimseProtocolError(`Cannot read command set: ${key} has ${length} bytes`, {
            code: 'ATRIUM_ERR_DIMSE_COMMAND',
          });
        }
        const v = buf.readUInt16LE(start);
        if (key === 'hasDataset') out.hasDataset = v !== NoDataSet;
        else out[key] = v;
        if (key === 'commandField') seenField = true;
      } else if (kind === 'AT') {
        const tags: number[] = [];
        for (let p = start; p + 4 <= end; p += 4) tags.push(((buf.readUInt16LE(p) << 16) | buf.readUInt16LE(p + 2)) >>> 0);
        out[key] = tags;
      } else {
        out[key] = trimText(buf, start, end);
      }
    }
    pos = end;
  }
  if (!seenField) {
    throw new DimseProtocolError('Cannot read command set: (0000,0100) Command Field is missing', {
      code: 'ATRIUM_ERR_DIMSE_COMMAND',
    });
  }
  return out as unknown as CommandSet;
}

/** Name of a command field for messages and logs, e.g. `C-STORE-RQ`. */
export function commandName(field: number): string {
  const names: Record<number, string> = {
    0x0001: 'C-STORE', 0x0010: 'C-GET', 0x0020: 'C-FIND', 0x0021: 'C-MOVE', 0x0030: 'C-ECHO',
    0x0100: 'N-EVENT-REPORT', 0x0110: 'N-GET', 0x0120: 'N-SET', 0x0130: 'N-ACTION', 0x0140: 'N-CREATE',
    0x0150: 'N-DELETE', 0x0fff: 'C-CANCEL',
  };
  const base = names[field & 0x7fff];
  if (!base) return `command 0x${field.toString(16).padStart(4, '0')}`;
  return `${base}-${field & 0x8000 ? 'RSP' : 'RQ'}`;
}
