import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DicomJsonDataset } from '@atrium/dicom';
import { protocolAnswerOf, reasonOf } from '../../errors.js';
import type { IngestResult } from '../../ingest/ingest-pipeline.js';
import { datasetMediaTypeOf, instanceUrl, originOf, sendDatasets, studyUrl, type DicomwebContext } from '../context.js';
import { MultipartError, MultipartLimitError, badRequest, unsupportedMediaType } from '../errors.js';
import { parseMediaType } from '../multipart/media-type.js';
import { boundaryOf, parseMultipart } from '../multipart/multipart-parser.js';

/** PS3.18 Table 10.5.3-2 / PS3.4 Annex B failure reasons used by STOW-RS. */
const DATA_SET_DOES_NOT_MATCH = 0xa900;
const CANNOT_UNDERSTAND = 0xc000;
const OUT_OF_RESOURCES = 0xa700;
/** Parts of one request staged but not yet committed, at most (memory stays bounded: each is on disk). */
const MAX_PARTS_IN_FLIGHT = 4;
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

const ui = (value: string | undefined) => (value ? { vr: 'UI' as const, Value: [value] } : { vr: 'UI' as const });

/**
 * STOW-RS (PS3.18 §10.5): `POST /studies` and `POST /studies/{study}` with a `multipart/related;
 * type="application/dicom"` body. Each part streams straight into the ingest pipeline as it arrives (no part is
 * buffered); the response lists what was stored (ReferencedSOPSequence) and what failed (FailedSOPSequence, with
 * the PS3.4 failure reason), with 200 when all were stored, 202 when some failed or carry warnings, 409 when none
 * was stored. Textual reasons go in `Warning` headers.
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
  const responseType = datasetMediaTypeOf(request);
  const contentType = parseMediaType(request.headers['content-type'] ?? '');
  if (!contentType || contentType.essence !== 'multipart/related') {
    throw unsupportedMediaType(
      `Cannot store instances sent as '${request.headers['content-type'] ?? '(no Content-Type)'}': STOW-RS takes multipart/related; type="application/dicom"`,
    );
  }
  const declaredType = contentType.parameters.type?.toLowerCase();
  if (declaredType && declaredType !== 'application/dicom') {
    throw unsupportedMediaType(
      `Cannot store instances sent as multipart/related of '${declaredType}': Atrium accepts Part 10 instances (type="application/dicom") only; metadata with bulk data (application/dicom+json, +xml) is not supported`,
    );
  }
  const boundary = boundaryOf(contentType.parameters);
  const targetStudy = request.params.study;
  const stored: Stored[] = [];
  const failed: Failure[] = [];
  let parts = 0;

  /** One part through the pipeline: what the response says of it. */
  const processPart = async (partNumber: number, body: AsyncIterable<Buffer>): Promise<Stored | Failure> => {
    let result: IngestResult;
    try {
      result = await archive.ingest.ingest(body, { kind: 'stow', origin: request.ip });
    } catch (error) {
      // A broken body ends the request; what was stored before stays stored and is reported.
      if (error instanceof MultipartError || error instanceof MultipartLimitError) throw error;
      return { reason: protocolAnswerOf(error).dicomStatus, message: `Cannot store part ${partNumber}: ${reasonOf(error)}` };
    }
    if (targetStudy !== undefined && result.studyInstanceUid !== targetStudy) {
      // PS3.18 §10.5.1.2: instances of another study than the target resource are refused. The pipeline has
      // already committed it; a fresh copy is removed again, an existing one stays as it was.
      if (result.outcome === 'stored') {
        const removed = await archive.archive.deleteInstance(result.sopInstanceUid);
        if (removed) await archive.store.delete(removed.blobKey);
      }
      return {
        sopClassUid: result.sopClassUid,
        sopInstanceUid: result.sopInstanceUid,
        reason: DATA_SET_DOES_NOT_MATCH,
        message: `Cannot store instance '${result.sopInstanceUid}' under study '${targetStudy}': it belongs to study '${result.studyInstanceUid}'`,
      };
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

  // Parts are pipelined: the next part is read from the socket as soon as the previous one has been staged, while
  // that one commits (its fsyncs overlap the next transfer). At most MAX_PARTS_IN_FLIGHT parts are between
  // "received" and "committed"; outcomes are reported in request order.
  const inFlight: Promise<Stored | Failure>[] = [];
  const outcomes: Promise<Stored | Failure>[] = [];
  let fatal: unknown;
  try {
    for await (const part of parseMultipart(request.body as Readable, boundary, context.limits)) {
      parts++;
      const partType = parseMediaType(part.headers['content-type'] ?? declaredType ?? 'application/dicom');
      if (partType?.essence !== 'application/dicom') {
        outcomes.push(
          Promise.resolve({
            reason: CANNOT_UNDERSTAND,
            message: `Cannot store part ${parts}: its Content-Type '${part.headers['content-type']}' is not application/dicom`,
          }),
        );
        continue;
      }
      let consumed!: () => void;
      const bodyDone = new Promise<void>((resolve) => (consumed = resolve));
      async function* tracked(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
        try {
          yield* source;
        } finally {
          consumed();
        }
      }
      const task = processPart(parts, tracked(part.body));
      // A rejection is collected with the outcomes below; this handler only keeps it from being unhandled here.
      task.catch(() => undefined);
      outcomes.push(task);
      inFlight.push(task);
      await Promise.race([bodyDone, task.then(() => undefined, () => undefined)]);
      while (inFlight.length >= MAX_PARTS_IN_FLIGHT) await inFlight.shift()!.catch(() => undefined);
    }
  } catch (error) {
    fatal = error;
  }
  const settled = await Promise.allSettled(outcomes);
  for (const outcome of settled) {
    if (outcome.status === 'rejected') {
      fatal ??= outcome.reason;
      continue;
    }
    if ('result' in outcome.value) stored.push(outcome.value);
    else failed.push(outcome.value);
  }
  if (fatal !== undefined) {
    if (!(fatal instanceof MultipartError || fatal instanceof MultipartLimitError)) throw fatal;
    if (parts === 0 && stored.length === 0) throw fatal;
    failed.push({ reason: fatal instanceof MultipartLimitError ? OUT_OF_RESOURCES : CANNOT_UNDERSTAND, message: fatal.message });
  }
  if (parts === 0) throw badRequest('Cannot store instances: the multipart body has no parts');

  const origin = originOf(request);
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
