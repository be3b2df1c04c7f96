import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  RleLossless,
  tagToHex,
  type DataDictionary,
  type DicomJsonDataset,
  type DicomJsonValue,
} from '@atrium/dicom';
import {
  cEcho,
  cFind,
  cGet,
  cMove,
  SopClass,
  Status,
  VerificationSopClass,
  type CStoreRequest,
  type ProposedContext,
  type SubOperationProgress,
  type SubOperationResult,
} from '@atrium/dimse';
import type { Archive } from '../main.js';
import { parseRemoteAe, type RemoteAeConfig } from '../config/config.js';
import { reasonOf } from '../errors.js';
import type { RetrieveScope } from '../retrieve/index.js';
import { RemoteAeRegistry } from '../remote-nodes/remote-ae-registry.js';
import { connectToRemote } from './connect-remote.js';
import { sendInstances, type SendProgress } from './send-instances.js';
import type { DimseTranscoder } from './transcoding.js';

/*
 * Atrium as SCU (PS3.4 Annexes A, B, C): echo, send stored instances, query and retrieve from another node. The
 * CLI (`atrium echo|send|query|retrieve`) and the admin API call these; the remote AE is a configured title or an
 * ad hoc `AE@host:port`.
 */

export type ScuArchive = Pick<Archive, 'config' | 'database' | 'retrieve' | 'logger' | 'ingest' | 'dictionary'>;

/** A configured remote AE by title, or an ad hoc one written `AE@host:port`. */
export async function resolveRemoteAe(archive: Pick<Archive, 'config' | 'database'>, name: string): Promise<RemoteAeConfig> {
  if (name.includes('@')) return parseRemoteAe('remote AE', name);
  return new RemoteAeRegistry(archive).require(name);
}

/** C-ECHO (PS3.4 Annex A); resolves with the round trip including association set-up and release, in ms. */
export async function echoRemote(archive: Pick<Archive, 'config' | 'database'>, name: string): Promise<number> {
  const ae = await resolveRemoteAe(archive, name);
  const started = performance.now();
  const association = await connectToRemote(archive, ae, { presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] });
  try {
    await cEcho(association);
  } catch (error) {
    association.abort();
    throw error;
  }
  await association.release();
  return performance.now() - started;
}

/**
 * Sends the stored instances of a scope (a study, a series, listed instances) to a remote AE, each in its stored
 * syntax with an uncompressed fallback through the transcoder when one is given (PS3.4 Annex B).
 */
export async function* sendToRemote(
  archive: ScuArchive,
  name: string,
  scope: RetrieveScope,
  options: { transcoder?: DimseTranscoder; signal?: AbortSignal } = {},
): AsyncGenerator<SendProgress> {
  const ae = await resolveRemoteAe(archive, name);
  const refs = [];
  for await (const ref of archive.retrieve.instances(scope)) refs.push(ref);
  if (refs.length === 0) throw new TypeError(`Cannot send to '${ae.aeTitle}': no stored instance matches ${JSON.stringify(scope)}`);
  yield* sendInstances(archive, ae, refs, options);
}

/**
 * Query keys from `Keyword=value` or `GGGGEEEE=value` texts (a key without `=` is a return key), as findscu's
 * `-k` does. Values are DICOM JSON: person names as Alphabetic, numbers for binary VRs; a non-ASCII value makes
 * the identifier UTF-8 (ISO_IR 192).
 */
export function queryKeys(dictionary: DataDictionary, texts: readonly string[]): DicomJsonDataset {
  const keys: DicomJsonDataset = {};
  for (const text of texts) {
    const eq = text.indexOf('=');
    const name = (eq < 0 ? text : text.slice(0, eq)).trim();
    const value = eq < 0 ? undefined : text.slice(eq + 1);
    const tag = dictionary.tagOf(name.replace(/^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$/, '$1$2'));
    if (tag === undefined) throw new TypeError(`Cannot use query key '${name}': not a keyword or tag of the data dictionary`);
    const vr = dictionary.vrOf(tag);
    const hex = tagToHex(tag);
    if (value === undefined || value === '') {
      keys[hex] = { vr };
      continue;
    }
    const values: DicomJsonValue[] = value.split('\\').map((v) => {
      if (vr === 'PN') return { Alphabetic: v };
      if (['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV'].includes(vr)) return Number(v);
      return v;
    });
    keys[hex] = { vr, Value: values };
    if (/[^\x00-\x7f]/.test(value)) keys['00080005'] = { vr: 'CS', Value: ['ISO_IR 192'] };
  }
  return keys;
}

export interface RemoteQuery {
  model: 'PATIENT' | 'STUDY';
  level: 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';
  keys: DicomJsonDataset;
  /** Ask for relational queries (PS3.4 C.5.1.1 extended negotiation): no unique keys of the levels above needed. */
  relational?: boolean;
  signal?: AbortSignal;
}

function withLevel(query: Pick<RemoteQuery, 'level' | 'keys'>): DicomJsonDataset {
  return { ...query.keys, '00080052': { vr: 'CS', Value: [query.level] } };
}

/** C-FIND SCU (PS3.4 C.4.1) on the Patient Root or Study Root model; yields each match. */
export async function* queryRemote(archive: Pick<Archive, 'config' | 'database'>, name: string, query: RemoteQuery): AsyncGenerator<DicomJsonDataset> {
  const ae = await resolveRemoteAe(archive, name);
  const sopClassUid = query.model === 'PATIENT' ? SopClass.PatientRootFind : SopClass.StudyRootFind;
  const association = await connectToRemote(archive, ae, {
    presentationContexts: [{ abstractSyntaxUid: sopClassUid }],
    ...(query.relational ? { extendedNegotiations: [{ sopClassUid, serviceClassApplicationInformation: Buffer.from([1]) }] } : {}),
  });
  let failed = false;
  try {
    yield* cFind(association, { sopClassUid, identifier: withLevel(query), ...(query.signal ? { signal: query.signal } : {}) });
  } catch (error) {
    failed = true;
    association.abort();
    throw error;
  } finally {
    if (!failed && association.state === 'established') await association.release().catch(() => association.abort());
  }
}

/** Syntaxes proposed for instances coming back by C-GET, one context each so the peer can send what it holds. */
const RECEIVE_SYNTAX_GROUPS: readonly (readonly string[])[] = [
  [ExplicitVrLittleEndian, ImplicitVrLittleEndian],
  ['1.2.840.10008.1.2.4.70'],
  ['1.2.840.10008.1.2.4.90'],
  ['1.2.840.10008.1.2.4.50'],
  [RleLossless],
  ['1.2.840.10008.1.2.4.80'],
  ['1.2.840.10008.1.2.4.91'],
  ['1.2.840.10008.1.2.4.51'],
  ['1.2.840.10008.1.2.4.57'],
  ['1.2.840.10008.1.2.4.81'],
  ['1.2.840.10008.1.2.4.201'],
  ['1.2.840.10008.1.2.4.203'],
  [DeflatedExplicitVrLittleEndian],
];

/**
 * Storage contexts for a C-GET: per SOP class as many syntax groups as fit in 127 contexts (the first group is
 * uncompressed, so every class can at least come back decompressed).
 */
export function receiveContexts(sopClassUids: readonly string[]): ProposedContext[] {
  const perClass = Math.max(1, Math.min(RECEIVE_SYNTAX_GROUPS.length, Math.floor(127 / Math.max(1, sopClassUids.length))));
  return sopClassUids
    .slice(0, 127)
    .flatMap((uid) => RECEIVE_SYNTAX_GROUPS.slice(0, perClass).map((group) => ({ abstractSyntaxUid: uid, transferSyntaxUids: group })));
}

export interface RemoteRetrieve extends Omit<RemoteQuery, 'signal' | 'relational'> {
  /** `get` (default): instances come back on the same association into this archive; `move`: to `destination`. */
  method?: 'get' | 'move';
  /** C-MOVE destination; default Atrium's own AE title (the remote must know it and Atrium must be listening). */
  destination?: string;
  onProgress?: (progress: SubOperationProgress) => void;
  signal?: AbortSignal;
}

/** What a retrieve did: the final counts, and for C-GET the instances stored with their outcome. */
export interface RemoteRetrieveResult extends SubOperationResult {
  stored: { sopInstanceUid: string; outcome: string }[];
  refused: { sopInstanceUid: string; reason: string }[];
}

/**
 * C-GET or C-MOVE SCU (PS3.4 C.4.3, C.4.2). For C-GET the SOP classes to propose are learnt first with an IMAGE
 * level C-FIND of the same keys (SOP Class UID as return key); when the peer cannot answer it, the common image
 * classes are proposed. Each instance that arrives streams into the ingest pipeline and is answered after commit.
 */
export async function retrieveRemote(archive: ScuArchive, name: string, request: RemoteRetrieve): Promise<RemoteRetrieveResult> {
  const ae = await resolveRemoteAe(archive, name);
  const method = request.method ?? 'get';
  const model = request.model;
  const identifier = withLevel(request);
  const stored: RemoteRetrieveResult['stored'] = [];
  const refused: RemoteRetrieveResult['refused'] = [];
  const signal = request.signal;
  if (method === 'move') {
    const sopClassUid = model === 'PATIENT' ? SopClass.PatientRootMove : SopClass.StudyRootMove;
    const association = await connectToRemote(archive, ae, { presentationContexts: [{ abstractSyntaxUid: sopClassUid }] });
    try {
      const result = await cMove(association, {
        sopClassUid,
        moveDestination: request.destination ?? archive.config.dicom.aeTitle,
        identifier,
        ...(request.onProgress ? { onProgress: request.onProgress } : {}),
        ...(signal ? { signal } : {}),
      });
      await association.release();
      return { ...result, stored, refused };
    } catch (error) {
      association.abort();
      throw error;
    }
  }
  const sopClasses = await sopClassesOf(archive, name, request);
  const sopClassUid = model === 'PATIENT' ? SopClass.PatientRootGet : SopClass.StudyRootGet;
  const storage = receiveContexts(sopClasses);
  const store = async (incoming: CStoreRequest) => {
    try {
      const result = await archive.ingest.ingestDataset(
        incoming.datasetChunks ?? incoming.dataset,
        { transferSyntaxUid: incoming.transferSyntaxUid, sopClassUid: incoming.affectedSopClassUid, sopInstanceUid: incoming.affectedSopInstanceUid },
        { kind: 'dimse', callingAeTitle: ae.aeTitle, origin: `${ae.host}:${ae.port}` },
      );
      stored.push({ sopInstanceUid: result.sopInstanceUid, outcome: result.outcome });
      return { status: Status.Success };
    } catch (error) {
      refused.push({ sopInstanceUid: incoming.affectedSopInstanceUid, reason: reasonOf(error) });
      throw error;
    }
  };
  const association = await connectToRemote(archive, ae, {
    presentationContexts: [{ abstractSyntaxUid: sopClassUid }, ...storage],
    roleSelections: [...new Set(storage.map((c) => c.abstractSyntaxUid))].map((uid) => ({ sopClassUid: uid, scuRole: false, scpRole: true })),
    handlers: { store },
  });
  try {
    const result = await cGet(association, {
      sopClassUid,
      identifier,
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
    await association.release();
    return { ...result, stored, refused };
  } catch (error) {
    association.abort();
    throw error;
  }
}

/** Common classes proposed when the peer cannot say which a retrieve holds. */
const COMMON_STORAGE_CLASSES = [
  '1.2.840.10008.5.1.4.1.1.2', // CT
  '1.2.840.10008.5.1.4.1.1.4', // MR
  '1.2.840.10008.5.1.4.1.1.1', // CR
  '1.2.840.10008.5.1.4.1.1.1.1', // DX for presentation
  '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture
  '1.2.840.10008.5.1.4.1.1.6.1', // US
  '1.2.840.10008.5.1.4.1.1.3.1', // US multi-frame
  '1.2.840.10008.5.1.4.1.1.12.1', // XA
  '1.2.840.10008.5.1.4.1.1.128', // PET
  '1.2.840.10008.5.1.4.1.1.20', // NM
  '1.2.840.10008.5.1.4.1.1.1.2', // MG for presentation
  '1.2.840.10008.5.1.4.1.1.9.1.1', // 12-lead ECG
  '1.2.840.10008.5.1.4.1.1.88.11', // Basic Text SR
  '1.2.840.10008.5.1.4.1.1.88.22', // Enhanced SR
  '1.2.840.10008.5.1.4.1.1.104.1', // Encapsulated PDF
  '1.2.840.10008.5.1.4.1.1.481.1', // RT Image
];

async function sopClassesOf(archive: Pick<Archive, 'config' | 'database'>, name: string, request: RemoteRetrieve): Promise<string[]> {
  const classes = new Set<string>();
  try {
    const keys = { ...request.keys, '00080016': { vr: 'UI' as const }, '00080018': { vr: 'UI' as const } };
    for await (const match of queryRemote(archive, name, { model: request.model, level: 'IMAGE', keys, relational: true })) {
      const uid = match['00080016']?.Value?.[0];
      if (typeof uid === 'string' && uid) classes.add(uid);
    }
  } catch {
    // Not every peer answers an IMAGE level query for these keys (hierarchical models need the parents' UIDs).
  }
  return classes.size > 0 ? [...classes] : COMMON_STORAGE_CLASSES;
}
