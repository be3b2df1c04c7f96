export * from './errors.js';
export * from './schema.js';
export * from './dialect.js';
export * from './database.js';
export * from './index-record.js';
export * from './archive-repository.js';
export * from './job-queue.js';
export type { AtriumMigration } from './migrations/index.js';
export * from './sql.js';
