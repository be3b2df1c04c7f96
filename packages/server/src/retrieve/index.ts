export * from './retrieve-service.js';
export * from './transcoder.js';
export * from './transfer-syntax-support.js';
export * from './stored-bytes.js';
export * from './pixel-module.js';
export * from './render.js';
export * from './errors.js';
export * from './byte-order.js';
export type { PixelModule } from './codec-tasks.js';
