import { AbortReason, DimseProtocolError } from './errors.js';

/** The DICOM application context name (PS3.7 Annex A.2.1), the only one defined. */
export const DicomApplicationContext = '1.2.840.10008.3.1.1.1';

/** Presentation context as the requestor proposes it (PS3.8 §9.3.2.2). */
export interface ProposedPresentationContext {
  /** Odd number 1-255, unique in the request. */
  readonly id: number;
  readonly abstractSyntaxUid: string;
  readonly transferSyntaxUids: readonly string[];
}

/** Result of a presentation context (PS3.8 Table 9-18). */
export const PresentationContextResult = {
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const;

/** Presentation context as the acceptor answers it (PS3.8 §9.3.3.2). */
export interface PresentationContextAnswer {
  readonly id: number;
  readonly result: number;
  /** The one transfer syntax chosen; meaningless unless `result` is acceptance. */
  readonly transferSyntaxUid: string;
}

/** SCP/SCU Role Selection sub-item (PS3.7 Annex D.3.3.4): who may be the SCP of a SOP class (C-GET stores). */
export interface RoleSelection {
  readonly sopClassUid: string;
  readonly scuRole: boolean;
  readonly scpRole: boolean;
}

/** SOP Class Extended Negotiation sub-item (PS3.7 Annex D.3.3.5), e.g. relational/fuzzy C-FIND flags. */
export interface ExtendedNegotiation {
  readonly sopClassUid: string;
  readonly serviceClassApplicationInformation: Buffer;
}

/** SOP Class Common Extended Negotiation sub-item (PS3.7 Annex D.3.3.6). */
export interface CommonExtendedNegotiation {
  readonly sopClassUid: string;
  readonly serviceClassUid: string;
  readonly relatedGeneralSopClassUids: readonly string[];
}

/** User Identity Negotiation (PS3.7 Annex D.3.3.7): type 1 username, 2 username+passcode, 3 Kerberos, 4 SAML, 5 JWT. */
export interface UserIdentity {
  readonly type: number;
  readonly positiveResponseRequested: boolean;
  readonly primaryField: Buffer;
  readonly secondaryField: Buffer;
}

/** User Information item (PS3.8 Annex D.1, PS3.7 Annex D.3.3). */
export interface UserInformation {
  /** Maximum length of the P-DATA-TF variable field this side accepts; 0 means no limit. */
  readonly maxPduLength: number;
  readonly implementationClassUid: string;
  readonly implementationVersionName?: string | undefined;
  /** Asynchronous Operations Window (PS3.7 Annex D.3.3.3); absent means 1/1. */
  readonly asyncOperations?: { readonly maxInvoked: number; readonly maxPerformed: number } | undefined;
  readonly roleSelections?: readonly RoleSelection[] | undefined;
  readonly extendedNegotiations?: readonly ExtendedNegotiation[] | undefined;
  readonly commonExtendedNegotiations?: readonly CommonExtendedNegotiation[] | undefined;
  /** In an A-ASSOCIATE-RQ only. */
  readonly userIdentity?: UserIdentity | undefined;
  /** In an A-ASSOCIATE-AC only: the server response to a user identity request. */
  readonly userIdentityServerResponse?: Buffer | undefined;
}

/** A-ASSOCIATE-RQ PDU (PS3.8 §9.3.2). */
export interface AAssociateRq {
  readonly type: 'A-ASSOCIATE-RQ';
  readonly protocolVersion: number;
  readonly calledAeTitle: string;
  readonly callingAeTitle: string;
  readonly applicationContextName: string;
  readonly presentationContexts: readonly ProposedPresentationContext[];
  readonly userInformation: UserInformation;
}

/** A-ASSOCIATE-AC PDU (PS3.8 §9.3.3). */
export interface AAssociateAc {
  readonly type: 'A-ASSOCIATE-AC';
  readonly protocolVersion: number;
  readonly calledAeTitle: string;
  readonly callingAeTitle: string;
  readonly applicationContextName: string;
  readonly presentationContexts: readonly PresentationContextAnswer[];
  readonly userInformation: UserInformation;
}

/** A-ASSOCIATE-RJ result, source and reason (PS3.8 §9.3.4, Table 9-21). */
export interface AAssociateRj {
  readonly type: 'A-ASSOCIATE-RJ';
  /** 1 rejected-permanent, 2 rejected-transient. */
  readonly result: number;
  /** 1 service-user, 2 service-provider (ACSE), 3 service-provider (presentation). */
  readonly source: number;
  readonly reason: number;
}

/** Reject triples of PS3.8 Table 9-21, named for the acceptor's policy. */
export const RejectReason = {
  NoReasonGiven: { result: 1, source: 1, reason: 1 },
  ApplicationContextNotSupported: { result: 1, source: 1, reason: 2 },
  CallingAeTitleNotRecognized: { result: 1, source: 1, reason: 3 },
  CalledAeTitleNotRecognized: { result: 1, source: 1, reason: 7 },
  ProtocolVersionNotSupported: { result: 1, source: 2, reason: 2 },
  TemporaryCongestion: { result: 2, source: 3, reason: 1 },
  LocalLimitExceeded: { result: 2, source: 3, reason: 2 },
} as const satisfies Record<string, { result: number; source: number; reason: number }>;

/** A human reading of a reject triple, for error messages. */
export function describeReject(rj: { result: number; source: number; reason: number }): string {
  const permanence = rj.result === 2 ? 'transient' : 'permanent';
  let why = `reason ${rj.reason}`;
  if (rj.source === 1) {
    why = ({ 1: 'no reason given', 2: 'application context not supported', 3: 'calling AE title not recognized',
      7: 'called AE title not recognized' } as Record<number, string>)[rj.reason] ?? why;
  } else if (rj.source === 2) {
    why = ({ 1: 'no reason given', 2: 'protocol version not supported' } as Record<number, string>)[rj.reason] ?? why;
  } else if (rj.source === 3) {
    why = ({ 1: 'temporary congestion', 2: 'local limit exceeded' } as Record<number, string>)[rj.reason] ?? why;
  }
  return `${why} (${permanence})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

class ItemWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;
  push(buf: Buffer): void {
    this.parts.push(buf);
    this.size += buf.length;
  }
  u8(v: number): void {
    this.push(Buffer.from([v & 0xff]));
  }
  u16(v: number): void {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v);
    this.push(b);
  }
  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    this.push(b);
  }
  /** An item with a one-byte type, one reserved byte and a 16-bit length (PS3.8 §9.3.2.x). */
  item(type: number, body: Buffer): void {
    if (body.length > 0xffff) {
      throw new DimseProtocolError(`Cannot encode item 0x${type.toString(16)}: ${body.length} bytes exceed 65535`);
    }
    const h = Buffer.allocUnsafe(4);
    h[0] = type;
    h[1] = 0;
    h.writeUInt16BE(body.length, 2);
    this.push(h);
    this.push(body);
  }
  get length(): number {
    return this.size;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

function lengthPrefixed(text: string | Buffer): Buffer {
  const body = typeof text === 'string' ? ascii(text) : text;
  const b = Buffer.allocUnsafe(2 + body.length);
  b.writeUInt16BE(body.length);
  body.copy(b, 2);
  return b;
}

/** AE titles are 16 bytes, space padded (PS3.8 §9.3.2); longer titles are refused rather than cut silently. */
function aeTitleField(title: string, what: string): Buffer {
  if (title.length === 0 || title.length > 16) {
    throw new TypeError(`Cannot encode ${what} '${title}': an AE title has 1 to 16 characters`);
  }
  const b = Buffer.alloc(16, 0x20);
  b.write(title, 'latin1');
  return b;
}

function encodeUserInformation(ui: UserInformation, isRequest: boolean): Buffer {
  const w = new ItemWriter();
  const maxLength = Buffer.allocUnsafe(4);
  maxLength.writeUInt32BE(ui.maxPduLength >>> 0);
  w.item(0x51, maxLength);
  w.item(0x52, ascii(ui.implementationClassUid));
  if (ui.asyncOperations) {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt16BE(ui.asyncOperations.maxInvoked);
    b.writeUInt16BE(ui.asyncOperations.maxPerformed, 2);
    w.item(0x53, b);
  }
  for (const r of ui.roleSelections ?? []) {
    w.item(0x54, Buffer.concat([lengthPrefixed(r.sopClassUid), Buffer.from([r.scuRole ? 1 : 0, r.scpRole ? 1 : 0])]));
  }
  if (ui.implementationVersionName) w.item(0x55, ascii(ui.implementationVersionName));
  for (const e of ui.extendedNegotiations ?? []) {
    w.item(0x56, Buffer.concat([lengthPrefixed(e.sopClassUid), e.serviceClassApplicationInformation]));
  }
  if (isRequest) {
    for (const c of ui.commonExtendedNegotiations ?? []) {
      const related = Buffer.concat(c.relatedGeneralSopClassUids.map((u) => lengthPrefixed(u)));
      w.item(0x57, Buffer.concat([lengthPrefixed(c.sopClassUid), lengthPrefixed(c.serviceClassUid), lengthPrefixed(related)]));
    }
    if (ui.userIdentity) {
      const u = ui.userIdentity;
      w.item(
        0x58,
        Buffer.concat([Buffer.from([u.type, u.positiveResponseRequested ? 1 : 0]), lengthPrefixed(u.primaryField),
          lengthPrefixed(u.secondaryField)]),
      );
    }
  } else if (ui.userIdentityServerResponse) {
    w.item(0x59, lengthPrefixed(ui.userIdentityServerResponse));
  }
  return w.toBuffer();
}

function encodeAssociate(pdu: AAssociateRq | AAssociateAc): Buffer {
  const isRequest = pdu.type === 'A-ASSOCIATE-RQ';
  const items = new ItemWriter();
  items.item(0x10, ascii(pdu.applicationContextName));
  for (const pc of pdu.presentationContexts) {
    const sub = new ItemWriter();
    if (isRequest) {
      const p = pc as ProposedPresentationContext;
      sub.push(Buffer.from([p.id, 0, 0, 0]));
      sub.item(0x30, ascii(p.abstractSyntaxUid));
      for (const ts of p.transferSyntaxUids) sub.item(0x40, ascii(ts));
      items.item(0x20, sub.toBuffer());
    } else {
      const a = pc as PresentationContextAnswer;
      sub.push(Buffer.from([a.id, 0, a.result, 0]));
      // PS3.8 §9.3.3.2: the transfer syntax sub-item is present but not significant when not accepted.
      sub.item(0x40, ascii(a.transferSyntaxUid));
      items.item(0x21, sub.toBuffer());
    }
  }
  items.item(0x50, encodeUserInformation(pdu.userInformation, isRequest));
  const body = items.toBuffer();
  const header = Buffer.alloc(74);
  header[0] = isRequest ? 0x01 : 0x02;
  header.writeUInt32BE(68 + body.length, 2);
  header.writeUInt16BE(pdu.protocolVersion, 6);
  aeTitleField(pdu.calledAeTitle, 'called AE title').copy(header, 10);
  aeTitleField(pdu.callingAeTitle, 'calling AE title').copy(header, 26);
  return Buffer.concat([header, body]);
}

/** Encodes an A-ASSOCIATE-RQ PDU (PS3.8 §9.3.2). */
export function encodeAAssociateRq(pdu: Omit<AAssociateRq, 'type'>): Buffer {
  return encodeAssociate({ ...pdu, type: 'A-ASSOCIATE-RQ' });
}

/** Encodes an A-ASSOCIATE-AC PDU (PS3.8 §9.3.3). */
export function encodeAAssociateAc(pdu: Omit<AAssociateAc, 'type'>): Buffer {
  return encodeAssociate({ ...pdu, type: 'A-ASSOCIATE-AC' });
}

/** Encodes an A-ASSOCIATE-RJ PDU (PS3.8 §9.3.4). */
export function encodeAAssociateRj(rj: { result: number; source: number; reason: number }): Buffer {
  return Buffer.from([0x03, 0, 0, 0, 0, 4, 0, rj.result, rj.source, rj.reason]);
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding (the body of the PDU, after the 6-byte header)

function bad(message: string, abortReason: number = AbortReason.InvalidPduParameterValue): DimseProtocolError {
  return new DimseProtocolError(message, { abortReason });
}

function readText(buf: Buffer, start: number, end: number): string {
  // UIDs may be padded with a trailing NUL by some implementations; AE titles with spaces.
  let e = end;
  while (e > start && (buf[e - 1] === 0 || buf[e - 1] === 0x20)) e--;
  let s = start;
  while (s < e && buf[s] === 0x20) s++;
  return buf.toString('latin1', s, e);
}

interface RawItem {
  type: number;
  start: number;
  end: number;
}

function* items(buf: Buffer, start: number, end: number, where: string): Generator<RawItem> {
  let pos = start;
  while (pos < end) {
    if (pos + 4 > end) throw bad(`Cannot read ${where}: item header at offset ${pos} runs past the end`);
    const type = buf[pos]!;
    const length = buf.readUInt16BE(pos + 2);
    const itemEnd = pos + 4 + length;
    if (itemEnd > end) throw bad(`Cannot read ${where}: item 0x${type.toString(16)} of ${length} bytes runs past the end`);
    yield { type, start: pos + 4, end: itemEnd };
    pos = itemEnd;
  }
}

function readLengthPrefixed(buf: Buffer, pos: number, end: number, where: string): { value: Buffer; next: number } {
  if (pos + 2 > end) throw bad(`Cannot read ${where}: length runs past the end`);
  const len = buf.readUInt16BE(pos);
  if (pos + 2 + len > end) throw bad(`Cannot read ${where}: ${len} bytes run past the end`);
  return { value: buf.subarray(pos + 2, pos + 2 + len), next: pos + 2 + len };
}

function decodeUserInformation(buf: Buffer, start: number, end: number): UserInformation {
  let maxPduLength = 0;
  let implementationClassUid = '';
  let implementationVersionName: string | undefined;
  let asyncOperations: UserInformation['asyncOperations'];
  const roleSelections: RoleSelection[] = [];
  const extendedNegotiations: ExtendedNegotiation[] = [];
  const commonExtendedNegotiations: CommonExtendedNegotiation[] = [];
  let userIdentity: UserIdentity | undefined;
  let userIdentityServerResponse: Buffer | undefined;
  for (const it of items(buf, start, end, 'user information')) {
    switch (it.type) {
      case 0x51:
        if (it.end - it.start !== 4) throw bad('Cannot read maximum length sub-item: length is not 4');
        maxPduLength = buf.readUInt32BE(it.start);
        break;
      case 0x52:
        implementationClassUid = readText(buf, it.start, it.end);
        break;
      case 0x53:
        if (it.end - it.start !== 4) throw bad('Cannot read asynchronous operations window: length is not 4');
        asyncOperations = { maxInvoked: buf.readUInt16BE(it.start), maxPerformed: buf.readUInt16BE(it.start + 2) };
        break;
      case 0x54: {
        const uid = readLengthPrefixed(buf, it.start, it.end, 'role selection');
        if (uid.next + 2 > it.end) throw bad('Cannot read role selection: roles run past the end');
        roleSelections.push({
          sopClassUid: readText(uid.value, 0, uid.value.length),
          scuRole: buf[uid.next] === 1,
          scpRole: buf[uid.next + 1] === 1,
        });
        break;
      }
      case 0x55:
        implementationVersionName = readText(buf, it.start, it.end);
        break;
      case 0x56: {
        const uid = readLengthPrefixed(buf, it.start, it.end, 'extended negotiation');
        extendedNegotiations.push({
          sopClassUid: readText(uid.value, 0, uid.value.length),
          serviceClassApplicationInformation: Buffer.from(buf.subarray(uid.next, it.end)),
        });
        break;
      }
      case 0x57: {
        const sop = readLengthPrefixed(buf, it.start, it.end, 'common extended negotiation');
        const service = readLengthPrefixed(buf, sop.next, it.end, 'common extended negotiation');
        const related = readLengthPrefixed(buf, service.next, it.end, 'common extended negotiation');
        const uids: string[] = [];
        let p = 0;
        while (p < related.value.length) {
          const r = readLengthPrefixed(related.value, p, related.value.length, 'related general SOP class');
          uids.push(readText(r.value, 0, r.value.length));
          p = r.next;
        }
        commonExtendedNegotiations.push({
          sopClassUid: readText(sop.value, 0, sop.value.length),
          serviceClassUid: readText(service.value, 0, service.value.length),
          relatedGeneralSopClassUids: uids,
        });
        break;
      }
      case 0x58: {
        if (it.start + 2 > it.end) throw bad('Cannot read user identity: item too short');
        const primary = readLengthPrefixed(buf, it.start + 2, it.end, 'user identity');
        const secondary =
          primary.next < it.end ? readLengthPrefixed(buf, primary.next, it.end, 'user identity').value : Buffer.alloc(0);
        userIdentity = {
          type: buf[it.start]!,
          positiveResponseRequested: buf[it.start + 1] === 1,
          primaryField: Buffer.from(primary.value),
          secondaryField: Buffer.from(secondary),
        };
        break;
      }
      case 0x59:
        userIdentityServerResponse = Buffer.from(readLengthPrefixed(buf, it.start, it.end, 'user identity response').value);
        break;
      default:
        // Unknown sub-items are skipped: PS3.7 Annex D.3.1 lets implementations ignore what they do not support.
        break;
    }
  }
  return {
    maxPduLength,
    implementationClassUid,
    implementationVersionName,
    asyncOperations,
    roleSelections,
    extendedNegotiations,
    commonExtendedNegotiations,
    userIdentity,
    userIdentityServerResponse,
  };
}

/** Decodes the body (bytes after the 6-byte PDU header) of an A-ASSOCIATE-RQ or -AC. */
export function decodeAssociate(type: 0x01 | 0x02, body: Buffer): AAssociateRq | AAssociateAc {
  const what = type === 1 ? 'A-ASSOCIATE-RQ' : 'A-ASSOCIATE-AC';
  if (body.length < 68) throw bad(`Cannot read ${what}: ${body.length} bytes is shorter than the fixed fields`);
  const protocolVersion = body.readUInt16BE(0);
  const calledAeTitle = readText(body, 4, 20);
  const callingAeTitle = readText(body, 20, 36);
  let applicationContextName = '';
  const proposed: ProposedPresentationContext[] = [];
  const answers: PresentationContextAnswer[] = [];
  let userInformation: UserInformation | undefined;
  for (const it of items(body, 68, body.length, what)) {
    if (it.type === 0x10) {
      applicationContextName = readText(body, it.start, it.end);
    } else if ((it.type === 0x20 && type === 1) || (it.type === 0x21 && type === 2)) {
      if (it.end - it.start < 4) throw bad(`Cannot read ${what}: presentation context item too short`);
      const id = body[it.start]!;
      const result = body[it.start + 2]!;
      let abstractSyntaxUid = '';
      const transferSyntaxUids: string[] = [];
      for (const sub of items(body, it.start + 4, it.end, 'presentation context')) {
        if (sub.type === 0x30) abstractSyntaxUid = readText(body, sub.start, sub.end);
        else if (sub.type === 0x40) transferSyntaxUids.push(readText(body, sub.start, sub.end));
      }
      if (type === 1) {
        if (!abstractSyntaxUid) throw bad(`Cannot read ${what}: presentation context ${id} has no abstract syntax`);
        proposed.push({ id, abstractSyntaxUid, transferSyntaxUids });
      } else {
        answers.push({ id, result, transferSyntaxUid: transferSyntaxUids[0] ?? '' });
      }
    } else if (it.type === 0x50) {
      userInformation = decodeUserInformation(body, it.start, it.end);
    } else {
      throw bad(`Cannot read ${what}: unexpected item type 0x${it.type.toString(16)}`, AbortReason.UnexpectedPduParameter);
    }
  }
  if (!applicationContextName) throw bad(`Cannot read ${what}: no application context item`);
  if (!userInformation) throw bad(`Cannot read ${what}: no user information item`);
  if (type === 1) {
    return { type: 'A-ASSOCIATE-RQ', protocolVersion, calledAeTitle, callingAeTitle, applicationContextName,
      presentationContexts: proposed, userInformation };
  }
  return { type: 'A-ASSOCIATE-AC', protocolVersion, calledAeTitle, callingAeTitle, applicationContextName,
    presentationContexts: answers, userInformation };
}
