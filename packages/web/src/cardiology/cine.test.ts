import assert from 'node:assert/strict';
import test from 'node:test';
import { CineClock, cineStatus, cineTiming, clipDuration, clipTimeOf, cycleClipTime, FpsMeter, frameAtTime, type JsonDataset } from './cine.js';

const ds = (fields: Record<string, [string, ...unknown[]]>): JsonDataset =>
  Object.fromEntries(Object.entries(fields).map(([tag, [vr, ...Value]]) => [tag, { vr, Value }]));

test('cineTiming - Frame Time gives the acquired rate', () => {
  const t = cineTiming(ds({ '00181063': ['DS', 1000 / 60], '00280008': ['IS', 60] }));
  assert.equal(t.source, 'FrameTime');
  assert.ok(Math.abs(t.fps - 60) < 1e-9);
  assert.equal(t.offsets.length, 60);
  assert.ok(Math.abs(t.offsets[30]! - 500) < 1e-9);
});

test('cineTiming - Frame Time Vector named by the pointer gives irregular offsets', () => {
  const t = cineTiming(ds({ '00280009': ['AT', '00181065'], '00181065': ['DS', 0, 20, 40, 20], '00280008': ['IS', 4] }));
  assert.equal(t.source, 'FrameTimeVector');
  assert.deepEqual(t.offsets, [0, 20, 60, 80]);
  assert.ok(Math.abs(t.fps - 37.5) < 1e-9);
});

test('cineTiming - falls back to Cine Rate, then Recommended Display Frame Rate, then 30', () => {
  assert.equal(cineTiming(ds({ '00180040': ['IS', 25] }), 3).fps, 25);
  assert.equal(cineTiming(ds({ '00082144': ['IS', 15] }), 3).source, 'RecommendedDisplayFrameRate');
  assert.equal(cineTiming({}, 3).fps, 30);
});

test('clipTimeOf and frameAtTime - drop frames to stay real time and loop', () => {
  const t = cineTiming(ds({ '00181063': ['DS', 1000 / 60] }), 60);
  const frameAt = (elapsed: number, speed: number, loop: boolean) => frameAtTime(t, clipTimeOf(t, elapsed, speed, loop));
  assert.ok(Math.abs(clipDuration(t) - 1000) < 1e-9);
  assert.equal(frameAt(0, 1, true), 0);
  // 40 ms of wall time is frame 2 at 60 fps, whatever was painted in between.
  assert.equal(frameAt(40, 1, true), 2);
  assert.equal(frameAt(1040, 1, true), 2);
  assert.equal(frameAt(1040, 1, false), 59);
  assert.equal(frameAt(400, 0.25, true), 6);
  assert.equal(frameAtTime(t, 500), 30);
});

test('FpsMeter - counts painted frames over its window', () => {
  const m = new FpsMeter(1000);
  for (let i = 0; i <= 30; i++) m.paint(i * 20);
  assert.ok(Math.abs(m.fps() - 50) < 1e-9);
  assert.equal(m.span(), 600);
  assert.equal(cineStatus(true, 49.6, 60, 1), 'playing 50 fps of 60 acquired');
  assert.equal(cineStatus(false, 0, 60, 0.5), 'paused, 60 acquired at 0.5x');
});

test('CineClock - keeps the clip position across pause, step and speed changes', () => {
  const clock = new CineClock();
  clock.play(1000);
  assert.equal(clock.elapsed(1500), 500);
  clock.setSpeed(0.5, 1500);
  // 500 ms of clip time at 0.5x is 1000 ms of wall time: clipTimeOf multiplies back to 500.
  assert.equal(clock.elapsed(1500) * clock.speed, 500);
  clock.pause(2500);
  assert.equal(clock.elapsed(9999) * clock.speed, 1000);
  clock.step(20);
  assert.equal(clock.elapsed() * clock.speed, 1020);
  let changes = 0;
  const stop = clock.subscribe(() => changes++);
  clock.setLoop(false);
  stop();
  clock.setLoop(true);
  assert.equal(changes, 1);
});

test('cycleClipTime - clips with cycles of different lengths stay at the same fraction of their cycle, loop after loop', () => {
  const t = cineTiming({ '00280008': { vr: 'IS', Value: [24] }, '00181063': { vr: 'DS', Value: [1000 / 30] } });
  const frame = 1000 / 30;
  // Rest: one beat of 24 frames from its R wave at frame 5 (wrapping at the clip's end); peak: R waves at 3 and 15.
  const rest = { startMs: 4 * frame, lengthMs: 800, displayMs: 800 };
  const peak = { startMs: 2 * frame, lengthMs: 12 * frame, displayMs: 800 };
  for (const elapsed of [0, 200, 400, 700, 1000, 2600]) {
    const restFraction = (((cycleClipTime(t, rest, elapsed, 1, true) - rest.startMs) % 800) + 800) % 800 / 800;
    const peakFraction = (cycleClipTime(t, peak, elapsed, 1, true) - peak.startMs) / peak.lengthMs;
    assert.ok(Math.abs(restFraction - peakFraction) < 1e-9, `at ${elapsed} ms: rest ${restFraction}, peak ${peakFraction}`);
  }
  // The peak's frames: R wave (frame index 2) at 0, mid-cycle (index 8) at 400 ms, and never past its second R wave.
  assert.equal(frameAtTime(t, cycleClipTime(t, peak, 0, 1, true)), 2);
  assert.equal(frameAtTime(t, cycleClipTime(t, peak, 400, 1, true)), 8);
  assert.equal(frameAtTime(t, cycleClipTime(t, peak, 799, 1, true)), 13);
  // Rest wraps at the end of the clip: 700 ms after its R wave at 133 ms is frame index 1.
  assert.equal(frameAtTime(t, cycleClipTime(t, rest, 700, 1, true)), 1);
  // At half speed, twice the wall time; without loop the end of the cycle holds.
  assert.equal(frameAtTime(t, cycleClipTime(t, peak, 800, 0.5, true)), 8);
  assert.equal(frameAtTime(t, cycleClipTime(t, peak, 5000, 1, false)), 13);
});
