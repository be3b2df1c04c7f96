import assert from 'node:assert/strict';
import test from 'node:test';
import { cineTiming, type JsonDataset } from './cine.js';
import { thumbnailFrameAt, thumbnailFrames } from './thumbnail-cine.js';

const clip = (frames: number, frameTimeMs: number): JsonDataset => ({
  '00280008': { vr: 'IS', Value: [frames] },
  '00181063': { vr: 'DS', Value: [frameTimeMs] },
});

test('thumbnailFrames - a 60 fps clip plays every fourth frame (15 fps); a slow clip every frame', () => {
  const echo = cineTiming(clip(60, 1000 / 60));
  assert.deepEqual(thumbnailFrames(echo), [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56]);
  assert.deepEqual(thumbnailFrames(cineTiming(clip(5, 100))), [0, 1, 2, 3, 4]);
  assert.deepEqual(thumbnailFrames(cineTiming(clip(32, 1000 / 30))).length, 16);
  // Frame Time as a rounded decimal string is still 30 fps.
  assert.deepEqual(thumbnailFrames(cineTiming(clip(32, 33.33))).length, 16);
});

test('thumbnailFrames - a long clip loads at most maxFrames', () => {
  const long = cineTiming(clip(600, 1000 / 30));
  const frames = thumbnailFrames(long, { maxFrames: 48 });
  assert.ok(frames.length <= 48, `${frames.length} frames`);
  assert.equal(frames[1], 13);
});

test('thumbnailFrameAt - keeps the acquired tempo at the reduced rate and loops', () => {
  const echo = cineTiming(clip(60, 1000 / 60));
  const frames = thumbnailFrames(echo);
  assert.equal(thumbnailFrameAt(echo, frames, 0), 0);
  // 70 ms in: frame 4 (66.7 ms) is due, frame 8 (133 ms) is not.
  assert.equal(frames[thumbnailFrameAt(echo, frames, 70)], 4);
  assert.equal(frames[thumbnailFrameAt(echo, frames, 999)], 56);
  // One second is one loop of 60 frames at 60 fps.
  assert.equal(thumbnailFrameAt(echo, frames, 1005), 0);
  assert.equal(frames[thumbnailFrameAt(echo, frames, 1070)], 4);
});
