import { getString } from '@atrium/dicom';
import { DimseStatusError, Status, type CFindHandler, type ExtendedNegotiation } from '@atrium/dimse';
import type { QueryEngine } from '../query/index.js';
import { FIND_MODELS } from './sop-classes.js';

/**
 * C-FIND extended negotiation (PS3.4 C.5.1.1): byte 1 relational queries, byte 2 combined
 * date-time matching, byte 3 fuzzy semantic matching of person names, byte 4 timezone query adjustment. Atrium
 * supports the first three (the query engine does), so it grants each that was asked for and refuses the fourth.
 */
export function answerFindExtendedNegotiation(item: ExtendedNegotiation): ExtendedNegotiation | undefined {
  if (!FIND_MODELS.has(item.sopClassUid)) return undefined;
  const asked = item.serviceClassApplicationInformation;
  const granted = Buffer.from([asked[0] === 1 ? 1 : 0, asked[1] === 1 ? 1 : 0, asked[2] === 1 ? 1 : 0, 0].slice(0, Math.max(1, Math.min(4, asked.length))));
  return { sopClassUid: item.sopClassUid, serviceClassApplicationInformation: granted };
}

function negotiated(items: readonly ExtendedNegotiation[], sopClassUid: string): { relational: boolean; fuzzyMatching: boolean } {
  const info = items.find((i) => i.sopClassUid === sopClassUid)?.serviceClassApplicationInformation;
  return { relational: info?.[0] === 1, fuzzyMatching: info?.[2] === 1 };
}

/**
 * C-FIND SCP (PS3.4 C.4.1) for the Patient Root and Study Root models, every level, over the one query engine
 * QIDO-RS uses too: the identifier's keys are its matching and return keys; person names match case-insensitively;
 * relational queries and fuzzy person-name matching apply when negotiated. A key the index cannot answer is an
 * A900 failure naming it, never a silent wildcard. C-CANCEL aborts `signal` and the engine stops reading.
 */
export function createFindHandler(engine: QueryEngine): CFindHandler {
  return async function* find(request) {
    const model = FIND_MODELS.get(request.affectedSopClassUid);
    if (!model) {
      throw new DimseStatusError(`Cannot query with SOP class '${request.affectedSopClassUid}'`, Status.SopClassNotSupported);
    }
    const level = (getString(request.identifier, '00080052') ?? '').trim().toUpperCase();
    if (level !== 'PATIENT' && level !== 'STUDY' && level !== 'SERIES' && level !== 'IMAGE') {
      throw new DimseStatusError(`Cannot query at level '${level}': expected PATIENT, STUDY, SERIES or IMAGE`, Status.IdentifierDoesNotMatchSopClass, {
        errorComment: level ? `Unsupported Query/Retrieve Level '${level.slice(0, 16)}'` : 'Query/Retrieve Level (0008,0052) missing',
        offendingElement: [0x00080052],
      });
    }
    const { relational, fuzzyMatching } = negotiated(request.association.extendedNegotiations, request.affectedSopClassUid);
    yield* engine.find({
      level,
      model: model === 'PATIENT' ? 'PATIENT_ROOT' : 'STUDY_ROOT',
      keys: request.identifier,
      relational,
      fuzzyMatching,
      signal: request.signal,
    });
  };
}
