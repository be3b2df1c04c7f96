import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  isReadableTransferSyntax,
  lookupTransferSyntax,
  type DataDictionary,
} from '@atrium/dicom';
import { SopClass, VerificationSopClass, type RoleSelection } from '@atrium/dimse';
import { ENCODABLE_TRANSFER_SYNTAXES, NATIVE_TRANSFER_SYNTAXES } from '../retrieve/transfer-syntax-support.js';

/** The Query/Retrieve information models Atrium serves (PS3.4 C.6.1, C.6.2). */
export type InformationModel = 'PATIENT' | 'STUDY';

export const FIND_MODELS: ReadonlyMap<string, InformationModel> = new Map([
  [SopClass.PatientRootFind, 'PATIENT'],
  [SopClass.StudyRootFind, 'STUDY'],
]);
export const MOVE_MODELS: ReadonlyMap<string, InformationModel> = new Map([
  [SopClass.PatientRootMove, 'PATIENT'],
  [SopClass.StudyRootMove, 'STUDY'],
]);
export const GET_MODELS: ReadonlyMap<string, InformationModel> = new Map([
  [SopClass.PatientRootGet, 'PATIENT'],
  [SopClass.StudyRootGet, 'STUDY'],
]);

/** Syntaxes for identifiers and other non-storage data sets, in Atrium's order of preference. */
const QUERY_TRANSFER_SYNTAXES = [ExplicitVrLittleEndian, ImplicitVrLittleEndian, DeflatedExplicitVrLittleEndian, ExplicitVrBigEndian];

/** Whether Atrium can store (and so accept) an instance in this syntax: its reader can walk the data set. */
export function isStorableTransferSyntax(uid: string): boolean {
  return lookupTransferSyntax(uid) !== undefined && isReadableTransferSyntax(uid);
}

/** Whether Atrium can send any instance it holds in this syntax without loss: native, or a lossless codec. */
function isLosslessForEveryInstance(uid: string): boolean {
  const syntax = lookupTransferSyntax(uid);
  return syntax !== undefined && !syntax.lossy && (NATIVE_TRANSFER_SYNTAXES.has(uid) || ENCODABLE_TRANSFER_SYNTAXES.has(uid));
}

/** A lossy syntax Atrium encodes into when an instance is not stored in it. */
function isLossyEncoding(uid: string): boolean {
  return lookupTransferSyntax(uid)?.lossy === true && ENCODABLE_TRANSFER_SYNTAXES.has(uid);
}

/**
 * What the SCP accepts, from the PS3.6 registry: every storage SOP class of PS3.4 Annex B (retired ones too:
 * old modalities still send them), the Q/R models of PS3.4 Annex C, Verification and Storage Commitment.
 */
export class SopClassCatalogue {
  readonly storage: ReadonlySet<string>;
  private readonly known: ReadonlySet<string>;

  constructor(dictionary: DataDictionary) {
    const sopClasses = dictionary.uidsOfType('SOP Class');
    this.known = new Set(sopClasses.map((u) => u.uid));
    this.storage = new Set(
      sopClasses
        // A DICOMDIR is a file-set directory, not an instance to archive; ingest refuses it too.
        .filter((u) => /Storage/.test(u.name) && !/Commitment|Media Storage Directory/.test(u.name))
        .map((u) => u.uid),
    );
  }

  isStorage(uid: string): boolean {
    return this.storage.has(uid);
  }

  /** A syntactically valid UID that the registry does not know: a private or newer storage class. */
  isUnknown(uid: string): boolean {
    return !this.known.has(uid) && /^[0-9]+(\.[0-9]+)*$/.test(uid) && uid.length <= 64;
  }

  /**
   * The context answer (PS3.8 §9.3.3.2): for storage, the first syntax in the requestor's order that Atrium can
   * store, so an instance is kept in the syntax its sender prefers (usually the one it holds); for everything
   * else, Atrium's preference among the uncompressed syntaxes.
   *
   * A requestor that takes the SCP role of a storage class (C-GET, PS3.4 C.4.3) receives over the context, and one
   * syntax serves every instance of the class it may ask for. When its first choice is a lossy syntax Atrium would
   * have to encode into, the first lossless one it proposes that Atrium can produce from anything it holds wins
   * instead: no sub-operation then fails for want of a possible encoding (a 16-bit MR cannot travel as JPEG
   * Baseline) and no image is degraded by a compression it was not stored with. Other first choices stand: a video
   * syntax, say, is only ever sent as stored, and the requestor asking for it wants the clips as they are.
   */
  chooseTransferSyntax(
    abstractSyntaxUid: string,
    proposed: readonly string[],
    acceptUnknown: boolean,
    roles?: RoleSelection,
  ): string | undefined {
    if (this.isStorage(abstractSyntaxUid) || (acceptUnknown && this.isUnknown(abstractSyntaxUid))) {
      const first = proposed.find(isStorableTransferSyntax);
      if (roles?.scpRole && first !== undefined && isLossyEncoding(first)) return proposed.find(isLosslessForEveryInstance) ?? first;
      return first;
    }
    return QUERY_TRANSFER_SYNTAXES.find((ts) => proposed.includes(ts));
  }

  isServed(uid: string, services: { find: boolean; acceptUnknown: boolean }): boolean {
    if (uid === VerificationSopClass || uid === SopClass.StorageCommitmentPushModel) return true;
    if (this.isStorage(uid)) return true;
    if (MOVE_MODELS.has(uid) || GET_MODELS.has(uid)) return true;
    if (FIND_MODELS.has(uid)) return services.find;
    return services.acceptUnknown && this.isUnknown(uid);
  }
}
