import assert from 'node:assert/strict';
import test from 'node:test';
import { cardiacCycle, cardioItems, stressGrid } from './echo-layout.js';
import type { JsonDataset } from './cine.js';

const v = (vr: string, ...Value: unknown[]) => ({ vr, Value });
const clip = (uid: string, time: string, stage?: [string, number], view?: [string, number], extra: JsonDataset = {}): JsonDataset => ({
  '00080018': v('UI', uid),
  '0008002A': v('DT', `20240101${time}`),
  '00280008': v('IS', 30),
  ...(stage ? { '00082120': v('SH', stage[0]), '00082122': v('IS', stage[1]) } : {}),
  ...(view ? { '00082127': v('SH', view[0]), '00082128': v('IS', view[1]) } : {}),
  ...extra,
});

test('cardioItems - orders by acquisition time and tells clips from ECGs', () => {
  const items = cardioItems([
    clip('b', '101000'),
    clip('a', '100000'),
    { '00080016': v('UI', '1.2.840.10008.5.1.4.1.1.9.1.1'), '00080018': v('UI', 'ecg'), '0008002A': v('DT', '20240101090000') },
  ]);
  assert.deepEqual(items.map((i) => [i.sopInstanceUid, i.kind]), [['ecg', 'waveform'], ['a', 'cine'], ['b', 'cine']]);
});

test('stressGrid - puts rest and stages side by side per view', () => {
  const grid = stressGrid(
    cardioItems([
      clip('p', '100000', ['PEAK', 3], ['PLAX', 1]),
      clip('r', '090000', ['REST', 1], ['PLAX', 1]),
      clip('r4', '090100', ['REST', 1], ['A4C', 3]),
      clip('l', '093000', ['LOW DOSE', 2], ['PLAX', 1]),
    ]),
  )!;
  assert.deepEqual(grid.stages, ['REST', 'LOW DOSE', 'PEAK']);
  assert.deepEqual(grid.views.map((row) => [row.name, row.cells.map((c) => c?.sopInstanceUid ?? '-')]), [
    ['PLAX', ['r', 'l', 'p']],
    ['A4C', ['r4', '-', '-']],
  ]);
  assert.equal(stressGrid(cardioItems([clip('x', '1')])), undefined);
});

test('cardiacCycle - from the first R wave to the second, the whole clip from the R wave with one, from frame 1 without', () => {
  const timed = (rWaves: number[]) => clip('a', '1', undefined, undefined, { '00286040': v('US', ...rWaves), '00181063': v('DS', 20) });
  // 30 frames at 20 ms: R waves at frames 4 and 20 are 60 ms and 380 ms into the clip.
  assert.deepEqual(cardiacCycle(timed([4, 20])), { startMs: 60, lengthMs: 320, rWaves: 2 });
  assert.deepEqual(cardiacCycle(timed([4])), { startMs: 60, lengthMs: 600, rWaves: 1 });
  assert.deepEqual(cardiacCycle(clip('a', '1', undefined, undefined, { '00181063': v('DS', 20) })), { startMs: 0, lengthMs: 600, rWaves: 0 });
  // Pointers outside the clip are ignored.
  assert.deepEqual(cardiacCycle(timed([4, 31])), { startMs: 60, lengthMs: 600, rWaves: 1 });
});
