import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DicomJsonDataset } from '@atrium/dicom';
import { IngestRejectedError, protocolAnswerOf, reasonOf } from '../../errors.js';
import type { IngestResult } from '../../ingest/ingest-pipeline.js';
import { datasetMediaTypeOf, instanceUrl, originOf, sendDatasets, studyUrl, type DicomwebContext } from '../context.js';
import { MultipartError, MultipartLimitError, StowMetadataError, badRequest, unsupportedMediaType } from '../errors.js';
import { parseMediaType } from '../multipart/media-type.js';
import { boundaryOf, parseMultipart, type MultipartPart } from '../multipart/multipart-parser.js';
import { assembleInstance, BulkDataSpool, identityOf, type AssembledInstance } from './metadata-bulk.js';

/** PS3.18 Table 10.5.3-2 / PS3.4 Annex B failure reasons used by STOW-RS. */
const CANNOT_UNDERSTAND = 0xc000;
const OUT_OF_RESOURCES = 0xa700;
/**
 * Parts of one request received but not yet committed, at most. The request is read on while earlier parts wait
 * for their flushes (their own file, the index flush they share): 8 stored 20-part requests of 256x256 CT faster
 * than 4 in 8 of 9 paired runs. Each part in flight holds a staging file open, and a short one its bytes in memory
 * until it is committed (MAX_COLLECTED_PART_BYTES), so this stays bounded.
 */
const MAX_PARTS_IN_FLIGHT = 8;
/**
 * Parts up to this many bytes are read whole before they go to the pipeline, longer ones are streamed into it (the
 * same bound as DIMSE's `maxCollectedDatasetLength`; a CT or MR slice fits). Given whole, the pipeline hashes and
 * parses an instance where it lies and stages it in one write, with no stream per part (its cheaper path). Held per
 * part in flight, so a request holds at most MAX_PARTS_IN_FLIGHT times this.
 */
const MAX_COLLECTED_PART_BYTES = 1 << 20;
/** DICOM JSON metadata held in memory for one request, at most (bulk data is spooled to disk instead). */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;
const DICOM_JSON = 'application/dicom+json';
/** Warning B006 "Elements discarded" (PS3.4 Annex B): the copy sent was discarded, the stored one with other bytes kept. */
const ELEMENTS_DISCARDED = 0xb006;

interface Failure {
  sopClassUid?: string;
  sopInstanceUid?: string;
  reason: number;
  message: string;
}

interface Stored {
  result: IngestResult;
  warning?: { reason: number; message: string };
}

/** An instance's bytes as the pipeline takes them: an array is the whole object in memory, else a stream. */
type InstanceBytes = readonly Uint8Array[] | AsyncIterable<Uint8Array>;

const ui = (value: string | undefined) => (value ? { vr: 'UI' as const, Value: [value] } : { vr: 'UI' as const });

/**
 * STOW-RS (PS3.18 §10.5): `POST /studies` and `POST /studies/{study}` with a `multipart/related;
 * type="application/dicom"` body, each part given to the ingest pipeline whole when it is short and streamed into
 * it as it arrives when it is not (see MAX_COLLECTED_PART_BYTES), or a `type="application/dicom+json"` body of
 * metadata with bulk data, assembled into Part 10 instances that take the same pipeline (see
 * `readMetadataAndBulkData`). The response lists what was stored (ReferencedSOPSequence) and what failed
 * (FailedSOPSequence, with the PS3.4 failure reason), with 200 when all were stored, 202 when some failed or carry
 * warnings, 409 when none was stored. Textual reasons go in `Warning` headers.
 */
export function registerStowRs(app: FastifyInstance, context: DicomwebContext): void {
  // The request body is handed to the route as the raw stream: parts are read as the ingest consumes them.
  app.addContentTypeParser('multipart/related', (_request, payload, done) => done(null, payload));
  const handler = (request: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply) => store(request, reply, context);
  app.post('/studies', handler);
  app.post('/studies/:study', handler);
}

async function store(
  request: FastifyRequest<{ Params: { study?: string } }>,
  reply: FastifyReply,
  context: DicomwebContext,
): Promise<FastifyReply> {
  const { archive } = context;
  // Read before the body: once a client has sent everything it may close its side, and the socket that tells
  // http from https is gone.
  const origin = originOf(request);
  const responseType = datasetMediaTypeOf(request);
  const contentType = parseMediaType(request.headers['content-type'] ?? '');
  if (!contentType || contentType.essence !== 'multipart/related') {
    throw unsupportedMediaType(
      `Cannot store instances sent as '${request.headers['content-type'] ?? '(no Content-Type)'}': STOW-RS takes multipart/related; type="application/dicom" or type="application/dicom+json"`,
    );
  }
  const declaredType = contentType.parameters.type?.toLowerCase();
  if (declaredType === 'application/dicom+xml') {
    throw unsupportedMediaType(
      `Cannot store instances sent as multipart/related of 'application/dicom+xml': Atrium takes metadata with bulk data as application/dicom+json, or Part 10 instances (type="application/dicom")`,
    );
  }
  if (declaredType && declaredType !== 'application/dicom' && declaredType !== DICOM_JSON) {
    throw unsupportedMediaType(
      `Cannot store instances sent as multipart/related of '${declaredType}': Atrium takes Part 10 instances (type="application/dicom") or metadata with bulk data (type="application/dicom+json")`,
    );
  }
  const boundary = boundaryOf(contentType.parameters);
  const targetStudy = request.params.study;

  /** What the response says of one instance the pipeline was given. */
  const ingestOne = async (
    body: InstanceBytes | Promise<InstanceBytes>,
    describe: () => string,
    identity: { sopClassUid?: string; sopInstanceUid?: string } = {},
  ): Promise<Stored | Failure> => {
    let result: IngestResult;
    try {
      // PS3.18 §10.5.1.2: an instance of another study than the target resource is refused by the pipeline
      // before anything is stored or replaced.
      result = await archive.ingest.ingest(await body, {
        kind: 'stow',
        origin: request.ip,
        ...(targetStudy !== undefined ? { studyInstanceUid: targetStudy } : {}),
      });
    } catch (error) {
      // A broken body ends the request; what was stored before stays stored and is reported.
      if (error instanceof MultipartError || error instanceof MultipartLimitError) throw error;
      const named = error instanceof IngestRejectedError && error.instance ? error.instance : identity;
      return { ...named, reason: protocolAnswerOf(error).dicomStatus, message: `Cannot store ${describe()}: ${reasonOf(error)}` };
    }
    if (result.outcome !== 'kept-existing') return { result };
    return {
      result,
      warning: {
        reason: ELEMENTS_DISCARDED,
        message: `Instance '${result.sopInstanceUid}' is already stored with other bytes: the stored copy was kept`,
      },
    };
  };

  const source = request.body as Readable;
  const { outcomes, parts, fatal } =
    declaredType === DICOM_JSON
      ? await readMetadataAndBulkData(source, boundary, context, ingestOne)
      : await readInstances(source, boundary, context, declaredType, ingestOne);
  const stored: Stored[] = [];
  const failed: Failure[] = [];
  for (const outcome of outcomes) {
    if ('result' in outcome) stored.push(outcome);
    else failed.push(outcome);
  }
  if (fatal !== undefined) {
    if (!(fatal instanceof MultipartError || fatal instanceof MultipartLimitError)) throw fatal;
    if (parts === 0 && stored.length === 0) throw fatal;
    failed.push({ reason: fatal instanceof MultipartLimitError ? OUT_OF_RESOURCES : CANNOT_UNDERSTAND, message: fatal.message });
  }
  if (parts === 0) throw badRequest('Cannot store instances: the multipart body has no parts');

  const body: DicomJsonDataset = {};
  const studies = new Set(stored.map((s) => s.result.studyInstanceUid));
  const retrieveStudy = targetStudy ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (retrieveStudy && stored.length > 0) body['00081190'] = { vr: 'UR', Value: [studyUrl(origin, retrieveStudy)] };
  if (failed.length > 0) {
    body['00081198'] = {
      vr: 'SQ',
      Value: failed.map((f) => ({
        '00081150': ui(f.sopClassUid),
        '00081155': ui(f.sopInstanceUid),
        '00081197': { vr: 'US', Value: [f.reason] },
      })),
    };
  }
  if (stored.length > 0) {
    body['00081199'] = {
      vr: 'SQ',
      Value: stored.map(({ result, warning }) => {
        const item: DicomJsonDataset = {
          '00081150': ui(result.sopClassUid),
          '00081155': ui(result.sopInstanceUid),
          '00081190': {
            vr: 'UR',
            Value: [instanceUrl(origin, result.studyInstanceUid, result.seriesInstanceUid, result.sopInstanceUid)],
          },
        };
        if (warning) item['00081196'] = { vr: 'US', Value: [warning.reason] };
        return item;
      }),
    };
  }
  const warnings = [
    ...failed.map((f) => f.message),
    ...stored.flatMap((s) => (s.warning ? [s.warning.message] : [])),
    ...stored.flatMap((s) => s.result.warnings.map((w) => `Instance '${s.result.sopInstanceUid}': ${w}`)),
  ];
  if (warnings.length > 0) {
    // RFC 7234 §5.5 warn-text is a quoted string; keep each on one line, bounded, and in printable ASCII (a
    // header value outside Latin-1, e.g. a Japanese patient name in a reason, would fail the whole response).
    reply.header(
      'Warning',
      warnings.slice(0, 20).map((w) => `299 atrium "${w.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?').slice(0, 300)}"`),
    );
  }
  const anyWarning = stored.some((s) => s.warning);
  reply.code(stored.length === 0 ? 409 : failed.length > 0 || anyWarning ? 202 : 200);
  return sendDatasets(reply, context, responseType, body);
}

type IngestOne = (
  body: InstanceBytes | Promise<InstanceBytes>,
  describe: () => string,
  identity?: { sopClassUid?: string; sopInstanceUid?: string },
) => Promise<Stored | Failure>;

/** What reading a request body gave: an outcome per instance in request order, and the error that ended it early. */
interface ReadOutcome {
  outcomes: (Stored | Failure)[];
  parts: number;
  fatal: unknown;
}

/**
 * A body of Part 10 instances (PS3.18 §10.5.1.2.1). Parts are pipelined: the next part is read from the socket as
 * soon as the previous one has been read whole (or, streamed, staged), while that one is checked and committed (its
 * fsyncs overlap the next transfer). At most MAX_PARTS_IN_FLIGHT parts are between "received" and "committed";
 * outcomes keep request order.
 */
async function readInstances(
  source: Readable,
  boundary: string,
  context: DicomwebContext,
  declaredType: string | undefined,
  ingestOne: IngestOne,
): Promise<ReadOutcome> {
  const inFlight: Promise<Stored | Failure>[] = [];
  const pending: Promise<Stored | Failure>[] = [];
  let parts = 0;
  let fatal: unknown;
  try {
    for await (const part of parseMultipart(source, boundary, context.limits)) {
      const partNumber = ++parts;
      const partType = parseMediaType(part.headers['content-type'] ?? declaredType ?? 'application/dicom');
      if (partType?.essence !== 'application/dicom') {
        pending.push(
          Promise.resolve({
            reason: CANNOT_UNDERSTAND,
            message: `Cannot store part ${partNumber}: its Content-Type '${part.headers['content-type']}' is not application/dicom`,
          }),
        );
        continue;
      }
      const task = ingestOne(instanceBytesOf(part), () => `part ${partNumber}`);
      // A rejection is collected with the outcomes below; this handler only keeps it from being unhandled here.
      task.catch(() => undefined);
      pending.push(task);
      inFlight.push(task);
      await Promise.race([part.consumed, task.then(() => undefined, () => undefined)]);
      while (inFlight.length >= MAX_PARTS_IN_FLIGHT) await inFlight.shift()!.catch(() => undefined);
    }
  } catch (error) {
    fatal = error;
  }
  const outcomes: (Stored | Failure)[] = [];
  for (const settled of await Promise.allSettled(pending)) {
    if (settled.status === 'rejected') fatal ??= settled.reason;
    else outcomes.push(settled.value);
  }
  return { outcomes, parts, fatal };
}

/**
 * The bytes of an `application/dicom` part: collected whole up to MAX_COLLECTED_PART_BYTES, streamed past it. A
 * part that declares a longer Content-Length streams from the start; a declared length only chooses the path,
 * since the delimiter, not the header, ends a part (RFC 2046 §5.1.1).
 */
function instanceBytesOf(part: MultipartPart): InstanceBytes | Promise<InstanceBytes> {
  const declared = part.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_COLLECTED_PART_BYTES) return part.body;
  return part.collect(MAX_COLLECTED_PART_BYTES);
}

/**
 * A body of DICOM JSON metadata with bulk data (PS3.18 §10.5.1.2.2, type="application/dicom+json"): metadata parts
 * (each a DICOM JSON array of data sets, or one data set) are read into memory within MAX_METADATA_BYTES for the
 * request; every other part is bulk data, spooled to disk under its Content-Location. Once the body has been read,
 * each data set is assembled into a Part 10 instance (its BulkDataURIs resolved against the Content-Locations)
 * and streamed through the ingest pipeline like a Part 10 part. Part 10 parts in such a body are stored as they
 * come. A data set whose bulk data is missing fails alone, with its reason.
 */
async function readMetadataAndBulkData(
  source: Readable,
  boundary: string,
  context: DicomwebContext,
  ingestOne: IngestOne,
): Promise<ReadOutcome> {
  const spool = new BulkDataSpool(join(context.archive.config.dataDir, 'spool'));
  const outcomes: (Stored | Failure)[] = [];
  const datasets: { dataset: DicomJsonDataset; partNumber: number }[] = [];
  let metadataBytes = 0;
  let parts = 0;
  let fatal: unknown;
  try {
    try {
      for await (const part of parseMultipart(source, boundary, context.limits)) {
        const partNumber = ++parts;
        const partType = parseMediaType(part.headers['content-type'] ?? DICOM_JSON);
        if (!partType) {
          outcomes.push({ reason: CANNOT_UNDERSTAND, message: `Cannot store part ${partNumber}: its Content-Type '${part.headers['content-type']}' cannot be read` });
          continue;
        }
        if (partType.essence === DICOM_JSON || partType.essence === 'application/json') {
          const chunks: Buffer[] = [];
          for await (const chunk of part.body) {
            metadataBytes += chunk.length;
            if (metadataBytes > MAX_METADATA_BYTES) {
              throw new MultipartLimitError(`Cannot read metadata part ${partNumber}: the metadata of one request exceeds ${MAX_METADATA_BYTES} bytes`);
            }
            chunks.push(chunk);
          }
          const read = metadataOf(Buffer.concat(chunks), partNumber);
          if ('reason' in read) outcomes.push(read);
          else for (const dataset of read) datasets.push({ dataset, partNumber });
        } else if (partType.essence === 'application/dicom') {
          outcomes.push(await ingestOne(instanceBytesOf(part), () => `part ${partNumber}`));
        } else {
          const location = part.headers['content-location']?.trim();
          if (!location) {
            outcomes.push({ reason: CANNOT_UNDERSTAND, message: `Cannot use bulk data part ${partNumber} ('${partType.essence}'): it has no Content-Location for a BulkDataURI to name` });
            continue;
          }
          await spool.add(location, partType, part.body);
        }
      }
    } catch (error) {
      fatal = error;
    }
    // A body cut short still stores what it fully carried: an instance whose bulk data did not arrive fails alone.
    for (const { dataset, partNumber } of datasets) {
      const identity = identityOf(dataset);
      let instance: AssembledInstance;
      try {
        instance = await assembleInstance(dataset, spool);
      } catch (error) {
        // StowMetadataError carries its failure reason; anything else (a spool file that cannot be read) is A700.
        const message = error instanceof StowMetadataError ? error.message : `Cannot store metadata of part ${partNumber}: ${reasonOf(error)}`;
        outcomes.push({ ...identity, reason: protocolAnswerOf(error).dicomStatus, message });
        continue;
      }
      outcomes.push(await ingestOne(instance.part10(), () => `instance '${instance.sopInstanceUid}' of metadata part ${partNumber}`, identity));
    }
  } finally {
    await spool.close();
  }
  return { outcomes, parts, fatal };
}

/** The data sets of one metadata part: a DICOM JSON array (PS3.18 §F.2), or a single data set. */
function metadataOf(bytes: Buffer, partNumber: number): DicomJsonDataset[] | Failure {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return { reason: CANNOT_UNDERSTAND, message: `Cannot read metadata part ${partNumber}: ${(error as Error).message}` };
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0 || list.some((d) => d === null || typeof d !== 'object' || Array.isArray(d))) {
    return { reason: CANNOT_UNDERSTAND, message: `Cannot read metadata part ${partNumber}: expected a DICOM JSON array of data sets` };
  }
  return list as DicomJsonDataset[];
}
