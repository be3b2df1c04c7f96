import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RleLossless } from '../transfer-syntax.js';
import { buildDemoStudies } from './demo.js';

test('buildDemoStudies - a CT study, an echo study and an ECG study of two demo patients', () => {
  const demo = buildDemoStudies();
  assert.equal(demo.ct.instances.length, 12);
  assert.equal(demo.objects.length, 14);
  assert.equal(demo.ct.patientId, 'ATR-CT-0001');
  assert.equal(demo.echo.patientId, 'ATR-CARDIO-0001');
  assert.equal(demo.ecg.patientId, 'ATR-CARDIO-0001');
  assert.equal(demo.echo.transferSyntaxUid, RleLossless);
  assert.equal(new Set(demo.objects.map((o) => o.studyInstanceUid)).size, 3);
  assert.equal(new Set(demo.objects.map((o) => o.sopInstanceUid)).size, 14);
  const total = demo.objects.reduce((n, o) => n + o.byteLength, 0);
  assert.ok(total > 5e6 && total < 20e6, `total ${total}`);
  assert.equal(buildDemoStudies().echo.sopInstanceUid, demo.echo.sopInstanceUid);
});
