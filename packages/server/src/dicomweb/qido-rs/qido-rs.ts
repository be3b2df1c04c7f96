import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataDictionary, DicomJsonDataset } from '@atrium/dicom';
import { qidoDefaultReturnKeys, type QueryRequest } from '../../query/index.js';
import { toNativeDicomModel } from '../dicom-xml.js';
import { datasetMediaTypeOf, instanceUrl, originOf, seriesUrl, studyUrl, type DicomwebContext } from '../context.js';
import { newBoundary } from '../multipart/multipart-writer.js';
import { parseQidoParameters, type QidoLevel } from './qido-parameters.js';

/** What QIDO-RS needs of the query engine (`../query`): matches as DICOM JSON, and a count for the Warning. */
export interface QueryEngineLike {
  find(request: QueryRequest): AsyncIterable<DicomJsonDataset>;
  count(request: QueryRequest): Promise<number>;
}

interface Params {
  study?: string;
  series?: string;
}

type Query = Record<string, string | string[] | undefined>;

const STUDY_UID = '0020000D';
const SERIES_UID = '0020000E';
const SOP_UID = '00080018';
const RETRIEVE_URL = '00081190';
/** Largest `limit` answered by fetching one result more (held in memory) rather than by counting. */
const PROBE_LIMIT = 5000;

function uid(dataset: DicomJsonDataset, tag: string): string | undefined {
  const v = dataset[tag]?.Value?.[0];
  return typeof v === 'string' ? v : undefined;
}

/** Adds the return keys QIDO-RS answers by default (PS3.18 Tables 10.6.1-5/6/7) and the UIDs RetrieveURL needs. */
function addDefaultReturnKeys(keys: DicomJsonDataset, level: QidoLevel, withUpperLevels: boolean, dictionary: DataDictionary): void {
  const tags = [...qidoDefaultReturnKeys(level, withUpperLevels), STUDY_UID];
  if (level !== 'STUDY') tags.push(SERIES_UID);
  for (const tag of tags) keys[tag] ??= { vr: dictionary.vrOf(Number.parseInt(tag, 16)) };
}

/**
 * QIDO-RS (PS3.18 §10.6) at every resource of Table 10.6.1-2: `/studies`, `/series`, `/instances`,
 * `/studies/{study}/series`, `/studies/{study}/instances`, `/studies/{study}/series/{series}/instances`. Parameters
 * are read by `parseQidoParameters` (unknown ones are a 400), matching is the query engine's (one engine for
 * C-FIND and QIDO), and each result gets its RetrieveURL. Results stream as a JSON array (or a multipart of XML
 * documents); a `Warning: 299` header says when `limit` cut the result.
 */
export function registerQidoRs(app: FastifyInstance, context: DicomwebContext, queryEngine: QueryEngineLike): void {
  const route = (path: string, level: QidoLevel) =>
    app.get(path, (request: FastifyRequest<{ Params: Params; Querystring: Query }>, reply) => search(request, reply, context, queryEngine, level));
  route('/studies', 'STUDY');
  route('/series', 'SERIES');
  route('/instances', 'IMAGE');
  route('/studies/:study/series', 'SERIES');
  route('/studies/:study/instances', 'IMAGE');
  route('/studies/:study/series/:series/instances', 'IMAGE');
}

async function search(
  request: FastifyRequest<{ Params: Params; Querystring: Query }>,
  reply: FastifyReply,
  context: DicomwebContext,
  engine: QueryEngineLike,
  level: QidoLevel,
): Promise<FastifyReply> {
  const { dictionary } = context.archive;
  const parsed = parseQidoParameters(request.query, level, dictionary);
  const acceptParameter = request.query.accept;
  const mediaType = datasetMediaTypeOf(request, true, typeof acceptParameter === 'string' ? acceptParameter : undefined);
  const { study, series } = request.params;
  if (study !== undefined) parsed.keys[STUDY_UID] = { vr: 'UI', Value: [study] };
  if (series !== undefined) parsed.keys[SERIES_UID] = { vr: 'UI', Value: [series] };
  // Searches not scoped to the parent by the URL also answer the parent levels' defaults (PS3.18 §10.6.3.3).
  const unscoped = (level === 'SERIES' && study === undefined) || (level === 'IMAGE' && series === undefined);
  addDefaultReturnKeys(parsed.keys, level, unscoped, dictionary);

  // A limit up to PROBE_LIMIT is asked as limit + 1: the extra result, never sent, tells whether the result was
  // cut without a second (count) query. Larger limits stream and are counted.
  const probe = parsed.limit !== undefined && parsed.limit <= PROBE_LIMIT;
  const queryRequest: QueryRequest = {
    level,
    model: 'STUDY_ROOT',
    keys: parsed.keys,
    relational: true,
    fuzzyMatching: parsed.fuzzyMatching,
    includeAllFields: parsed.includeAllFields,
    offset: parsed.offset,
    ...(parsed.limit !== undefined ? { limit: probe ? parsed.limit + 1 : parsed.limit } : {}),
  };
  const abort = new AbortController();
  // The client went away: stop reading the index (a finished response also closes, which is harmless).
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  queryRequest.signal = abort.signal;

  let source: { next(): Promise<IteratorResult<DicomJsonDataset>> } = engine.find(queryRequest)[Symbol.asyncIterator]();
  // Validation errors come with the first result: take it before answering so they become a 400, not a cut stream.
  let first = await source.next();
  const cut = () =>
    reply.header('Warning', `299 atrium "There are additional results that can be requested: ${parsed.limit} returned from offset ${parsed.offset}"`);
  if (probe && !first.done) {
    const buffered: DicomJsonDataset[] = [];
    for (let next: IteratorResult<DicomJsonDataset> = first; !next.done; next = await source.next()) buffered.push(next.value);
    if (buffered.length > parsed.limit!) {
      buffered.length = parsed.limit!;
      cut();
    }
    const replay = buffered.values();
    source = { next: async () => replay.next() };
    first = await source.next();
  } else if (parsed.limit !== undefined && !first.done) {
    const total = await engine.count({ ...queryRequest, limit: parsed.limit });
    if (total > parsed.offset + parsed.limit) cut();
  }
  const origin = originOf(request);
  const withUrl = (dataset: DicomJsonDataset): DicomJsonDataset => {
    const s = uid(dataset, STUDY_UID) ?? study ?? '';
    const url =
      level === 'STUDY'
        ? studyUrl(origin, s)
        : level === 'SERIES'
          ? seriesUrl(origin, s, uid(dataset, SERIES_UID) ?? '')
          : instanceUrl(origin, s, uid(dataset, SERIES_UID) ?? series ?? '', uid(dataset, SOP_UID) ?? '');
    return { ...dataset, [RETRIEVE_URL]: { vr: 'UR', Value: [url] } };
  };
  async function* results(): AsyncGenerator<DicomJsonDataset> {
    let next = first;
    while (!next.done) {
      yield withUrl(next.value);
      next = await source.next();
    }
  }

  if (mediaType === 'application/dicom+json') {
    async function* json(): AsyncGenerator<string> {
      yield '[';
      let n = 0;
      for await (const dataset of results()) yield `${n++ === 0 ? '' : ','}${JSON.stringify(dataset)}`;
      yield ']';
    }
    return reply.type('application/dicom+json').send(Readable.from(json()));
  }
  const boundary = newBoundary();
  async function* xml(): AsyncGenerator<string> {
    for await (const dataset of results()) {
      yield `--${boundary}\r\nContent-Type: application/dicom+xml\r\n\r\n${toNativeDicomModel(dataset, dictionary)}\r\n`;
    }
    yield `--${boundary}--\r\n`;
  }
  return reply.type(`multipart/related; type="application/dicom+xml"; boundary=${boundary}`).send(Readable.from(xml()));
}
