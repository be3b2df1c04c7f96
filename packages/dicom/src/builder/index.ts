export * from './common.js';
export * from './ct-series.js';
export * from './ultrasound-clip.js';
export * from './multiframe.js';
export * from './ecg-12-lead.js';
export * from './demo.js';
export { encodeRleFrame } from './rle.js';
export type { RleFrameLayout } from './rle.js';
export { PHANTOM_HU, PHANTOM_LESION, phantomHu } from './phantom.js';
