export * from './errors.js';
export * from './blob-store.js';
export * from './filesystem-blob-store.js';
export * from './blob-store-contract.js';
