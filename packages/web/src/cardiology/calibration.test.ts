import assert from 'node:assert/strict';
import test from 'node:test';
import { frenchToMm, regionAt, ultrasoundRegions, usArea, usDistance, userCalibration, xaCalibration, xaDistance } from './calibration.js';
import type { JsonDataset } from './cine.js';

const v = (vr: string, ...Value: unknown[]) => ({ vr, Value });
const region = (x0: number, y0: number, x1: number, y1: number, ux: number, uy: number, dx: number, dy: number): JsonDataset => ({
  '00186018': v('UL', x0), '0018601A': v('UL', y0), '0018601C': v('UL', x1), '0018601E': v('UL', y1),
  '00186024': v('US', ux), '00186026': v('US', uy), '0018602C': v('FD', dx), '0018602E': v('FD', dy),
});
const ds: JsonDataset = { '00186011': v('SQ', region(0, 0, 399, 299, 3, 3, 0.04, 0.04), region(0, 300, 399, 479, 4, 7, 0.01, -0.5)) };

test('usDistance - uses the region physical deltas in cm', () => {
  const regions = ultrasoundRegions(ds);
  assert.equal(regionAt(regions, { x: 10, y: 310 }), 1);
  const m = usDistance(regions, { x: 10, y: 10 }, { x: 40, y: 50 });
  assert.ok(m.ok);
  assert.ok(Math.abs(m.value - 2) < 1e-9);
  assert.equal(m.unit, 'cm');
});

test('usDistance - gives s and cm/s in a Doppler region, and refuses crossing regions', () => {
  const regions = ultrasoundRegions(ds);
  const doppler = usDistance(regions, { x: 100, y: 320 }, { x: 150, y: 340 });
  assert.ok(doppler.ok);
  assert.equal(doppler.text, '0.50 s, 10.0 cm/s');
  const crossing = usDistance(regions, { x: 10, y: 10 }, { x: 10, y: 400 });
  assert.equal(crossing.ok, false);
  assert.match(!crossing.ok ? crossing.message : '', /across ultrasound regions 1 and 2/);
});

test('usArea - gives cm² in a 2D region', () => {
  const m = usArea(ultrasoundRegions(ds), [{ x: 0, y: 0 }, { x: 100, y: 0 }, { x: 100, y: 50 }, { x: 0, y: 50 }]);
  assert.ok(m.ok);
  assert.ok(Math.abs(m.value - 8) < 1e-9);
});

test('xaCalibration - corrects Imager Pixel Spacing for magnification; user calibration on a catheter', () => {
  const cal = xaCalibration({ '00181164': v('DS', 0.2, 0.2), '00181110': v('DS', 1000), '00181111': v('DS', 750) });
  assert.deepEqual(cal, { mmPerPixel: 0.15, source: 'isocentre' });
  const d = xaDistance(cal, { x: 0, y: 0 }, { x: 30, y: 40 });
  assert.ok(d.ok && Math.abs(d.value - 7.5) < 1e-9);
  const user = userCalibration(20, frenchToMm(6));
  assert.ok(Math.abs(user.mmPerPixel - 0.1) < 1e-12);
  assert.equal(xaDistance(undefined, { x: 0, y: 0 }, { x: 1, y: 1 }).ok, false);
});
