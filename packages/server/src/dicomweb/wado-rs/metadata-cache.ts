import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';
import type { AtriumDatabase, ArchiveRepository } from '@atrium/db';
import type { DicomJsonDataset } from '@atrium/dicom';
import { instanceUrl } from '../context.js';

const gzip = promisify(gzipCallback);

/** A metadata document ready to send: JSON bytes, its validator, and a gzip copy made on first demand. */
export interface MetadataDocument {
  json: Buffer;
  /** Strong validator (RFC 9110 §8.8.3) of `json`. */
  etag: string;
  gzip(): Promise<Buffer>;
}

interface Entry {
  version: number;
  studyInstanceUid: string;
  document: MetadataDocument;
  bytes: number;
}

/**
 * Rewrites the relative BulkDataURIs the index stores (`bulk/<path>`, relative to the instance) into absolute URLs
 * of the bulk data resource (PS3.18 §F.2.6), walking sequences.
 */
export function resolveBulkDataUris(dataset: DicomJsonDataset, instanceBase: string): void {
  for (const attribute of Object.values(dataset)) {
    if (attribute.BulkDataURI?.startsWith('bulk/')) attribute.BulkDataURI = `${instanceBase}/${attribute.BulkDataURI}`;
    else if (attribute.vr === 'SQ' && attribute.Value) {
      for (const item of attribute.Value) if (item && typeof item === 'object') resolveBulkDataUris(item as DicomJsonDataset, instanceBase);
    }
  }
}

function uidOf(dataset: DicomJsonDataset, tag: string): string {
  const v = dataset[tag]?.Value?.[0];
  return typeof v === 'string' ? v : '';
}

function documentOf(json: Buffer, etagSeed: string): MetadataDocument {
  let zipped: Promise<Buffer> | undefined;
  return {
    json,
    etag: `"${createHash('sha256').update(etagSeed).digest('base64url').slice(0, 32)}"`,
    gzip() {
      // Level 4: most of the gain at a fraction of level 6's time; done once per document on the thread pool.
      zipped ??= gzip(json, { level: 4, strategy: zlibConstants.Z_DEFAULT_STRATEGY });
      return zipped;
    },
  };
}

/**
 * Serves the WADO-RS series metadata documents (PS3.18 §10.4.1.1.2) that ingest keeps in `series_metadata`: the
 * document is read and its BulkDataURIs resolved once per series version and origin, then kept in a byte-bounded
 * LRU, so a request for an unchanged series costs one small index read and no JSON work at all. A series changed by
 * ingest has a new version and is rebuilt on its next request (never per request).
 */
export class MetadataCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(
    private readonly database: Pick<AtriumDatabase, 'kysely'>,
    private readonly archive: Pick<ArchiveRepository, 'getSeriesMetadata' | 'getInstanceMetadata'>,
    private readonly maxBytes = 256 * 1024 * 1024,
  ) {}

  /** The series' metadata, or undefined when the series is not stored under this study. */
  async series(origin: string, studyInstanceUid: string, seriesInstanceUid: string): Promise<MetadataDocument | undefined> {
    const head = await this.database.kysely
      .selectFrom('series')
      .innerJoin('study', 'study.id', 'series.study_fk')
      .leftJoin('series_metadata', 'series_metadata.series_fk', 'series.id')
      .select(['study.study_instance_uid as study', 'series_metadata.version as version'])
      .where('series.series_instance_uid', '=', seriesInstanceUid)
      .executeTakeFirst();
    if (!head || head.study !== studyInstanceUid) return undefined;
    const key = `${origin}\n${seriesInstanceUid}`;
    const cached = this.#entries.get(key);
    if (cached && head.version !== null && cached.version === head.version) {
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached.document;
    }
    const stored = await this.archive.getSeriesMetadata(seriesInstanceUid);
    if (!stored) return undefined;
    const instances = JSON.parse(stored.document) as DicomJsonDataset[];
    for (const instance of instances) {
      resolveBulkDataUris(
        instance,
        instanceUrl(origin, uidOf(instance, '0020000D'), uidOf(instance, '0020000E'), uidOf(instance, '00080018')),
      );
    }
    const document = documentOf(Buffer.from(JSON.stringify(instances)), `${stored.etag}\n${origin}`);
    if (head.version !== null) this.#remember(key, { version: head.version, studyInstanceUid, document, bytes: document.json.length * 2 });
    return document;
  }

  /** The study's metadata: its series' documents joined, in series number order. */
  async study(origin: string, studyInstanceUid: string): Promise<MetadataDocument | undefined> {
    const series = await this.database.kysely
      .selectFrom('series')
      .innerJoin('study', 'study.id', 'series.study_fk')
      .select('series.series_instance_uid as uid')
      .where('study.study_instance_uid', '=', studyInstanceUid)
      .orderBy('series.series_number')
      .orderBy('series.series_instance_uid')
      .execute();
    if (series.length === 0) return undefined;
    const documents: MetadataDocument[] = [];
    for (const { uid } of series) {
      const doc = await this.series(origin, studyInstanceUid, uid);
      if (doc && doc.json.length > 2) documents.push(doc);
    }
    // Each document is a JSON array: join their contents into one array without parsing them.
    const parts: Buffer[] = [Buffer.from('[')];
    documents.forEach((d, i) => {
      if (i > 0) parts.push(Buffer.from(','));
      parts.push(d.json.subarray(1, d.json.length - 1));
    });
    parts.push(Buffer.from(']'));
    return documentOf(Buffer.concat(parts), documents.map((d) => d.etag).join('\n'));
  }

  /** One instance's metadata, as a one-element array (PS3.18 §10.4.1.1.2). */
  async instance(origin: string, study: string, series: string, sop: string): Promise<MetadataDocument | undefined> {
    const meta = await this.archive.getInstanceMetadata(sop);
    if (!meta || meta.studyInstanceUid !== study || meta.seriesInstanceUid !== series) return undefined;
    resolveBulkDataUris(meta.dataset, instanceUrl(origin, study, series, sop));
    return documentOf(Buffer.from(JSON.stringify([meta.dataset])), `${meta.digest}\n${origin}`);
  }

  #remember(key: string, entry: Entry): void {
    const previous = this.#entries.get(key);
    if (previous) {
      this.#bytes -= previous.bytes;
      this.#entries.delete(key);
    }
    if (entry.bytes > this.maxBytes) return;
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.bytes;
    }
  }
}
