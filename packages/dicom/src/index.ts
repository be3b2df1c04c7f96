export * from './tag.js';
export * from './vr.js';
export * from './transfer-syntax.js';
export * from './errors.js';
export * from './dictionary.js';
export * from './dicom-json.js';
export * from './parsed-instance.js';
