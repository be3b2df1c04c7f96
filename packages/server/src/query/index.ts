import type { Archive } from '../main.js';
import { QueryEngine } from './query-engine.js';

export * from './catalogue.js';
export * from './errors.js';
export { QueryEngine, attributeHasValue, type QueryEngineOptions, type QueryRequest } from './query-engine.js';
export { fuzzyPersonNameMatches, foldForFuzzy } from './matching.js';

/** The query engine of an open archive: its index database, answering RetrieveAETitle with the configured AE. */
export function createQueryEngine(archive: Pick<Archive, 'database' | 'config'>): QueryEngine {
  return new QueryEngine({ database: archive.database, retrieveAeTitle: archive.config.dicom.aeTitle });
}
