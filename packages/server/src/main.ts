import { mkdirSync } from 'node:fs';
import { DataDictionary } from '@atrium/dicom';
import { openFileSystemBlobStore, type BlobStore, type FilesystemBlobStore } from '@atrium/store';
import { openDatabase, type AtriumDatabase, type ArchiveRepository } from '@atrium/db';
import type { FastifyInstance } from 'fastify';
import type { AtriumConfig } from './config/config.js';
import { createLogger, type Logger } from './logger.js';
import { IngestPipeline } from './ingest/ingest-pipeline.js';
import { recoverBlobIntents } from './ingest/recover-blob-intents.js';
import { recoverStagedInstances } from './ingest/recover-staged-instances.js';
import { RetrieveService, TranscoderPool } from './retrieve/index.js';
import { createQueryEngine, type QueryEngine } from './query/index.js';
import { openDevelopmentPolicy, type AuthorizationPolicy } from './auth/authorization.js';
import { buildHttpServer } from './http/http-server.js';
import { startDimse, type DimseListener } from './dimse-services/index.js';
import { startFhirImagingSync } from './fhir/index.js';

/** Staging files older than this belong to no live ingest: a crash left them, and recovery did not need them. */
const STALE_STAGING_MS = 60 * 60 * 1000;

/** The archive's object graph: what every command and listener works through. */
export interface Archive {
  config: AtriumConfig;
  logger: Logger;
  dictionary: DataDictionary;
  database: AtriumDatabase;
  archive: ArchiveRepository;
  store: BlobStore;
  ingest: IngestPipeline;
  retrieve: RetrieveService;
  /** The one query engine of C-FIND, QIDO-RS and the worklist. */
  query: QueryEngine;
  /** Codecs in worker threads, shared by every retrieve that needs another transfer syntax (no thread until used). */
  transcoder: TranscoderPool;
  policy: AuthorizationPolicy;
  close(): Promise<void>;
}

/**
 * The composition root (house style: config -> logger -> database -> blob store -> services). Nothing else in the
 * server constructs a dependency; everything is passed in from here, which is what lets tests build an archive on
 * a temporary directory and a second one beside it in the same process.
 */
export async function openArchive(config: AtriumConfig, logger: Logger = createLogger(config)): Promise<Archive> {
  mkdirSync(config.dataDir, { recursive: true });
  const dictionary = new DataDictionary();
  const database = await openDatabase({
    kind: 'sqlite',
    path: config.database.path,
    synchronous: config.database.synchronous,
    cacheSizeKib: config.database.cacheMib * 1024,
    commitThread: config.database.commitThread,
  });
  let store: FilesystemBlobStore;
  try {
    // Stale staging files are removed only after recovery, which may still need some of them.
    store = await openFileSystemBlobStore({
      root: config.store.root,
      fsync: config.store.fsync,
      staleStagingAfterMs: Number.POSITIVE_INFINITY,
      stagingThread: true,
      readThread: true,
    });
  } catch (error) {
    await database.close();
    throw error;
  }
  const archive = database.archive;
  const ingest = new IngestPipeline({ config, store, archive, dictionary, logger });
  const retrieve = new RetrieveService({ database, store });
  const transcoder = new TranscoderPool({ store, pixelLayout: (ref) => retrieve.pixelLayout(ref) });
  try {
    await recoverBlobIntents(store, archive, logger);
    await recoverStagedInstances(store, ingest, logger);
    await ingest.flush();
    await store.removeStaleStaging(STALE_STAGING_MS);
  } catch (error) {
    await database.close();
    throw error;
  }
  return {
    config,
    logger,
    dictionary,
    database,
    archive,
    store,
    ingest,
    retrieve,
    query: createQueryEngine({ database, config }),
    transcoder,
    policy: openDevelopmentPolicy(),
    async close() {
      await transcoder.close();
      await ingest.flush();
      await store.close?.();
      await database.close();
    },
  };
}

export interface RunningServer {
  archive: Archive;
  http: FastifyInstance;
  dimse: DimseListener | undefined;
  /** Where the HTTP server listens, e.g. `http://127.0.0.1:8080`. */
  httpUrl: string;
  close(): Promise<void>;
}

/** Opens the archive and starts the listeners; `close()` stops them and closes the archive. */
export async function startServer(config: AtriumConfig, logger: Logger = createLogger(config)): Promise<RunningServer> {
  const archive = await openArchive(config, logger);
  const http = await buildHttpServer(archive);
  try {
    await http.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    await archive.close();
    throw error;
  }
  let dimse: DimseListener | undefined;
  try {
    dimse = await startDimse(archive);
  } catch (error) {
    await http.close();
    await archive.close();
    throw error;
  }
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  const fhirSync = startFhirImagingSync(archive, `http://${host}:${port}`);
  return {
    archive,
    http,
    dimse,
    httpUrl: `http://${host}:${port}`,
    async close() {
      await fhirSync.stop();
      await dimse?.close();
      await http.close();
      await archive.close();
    },
  };
}
