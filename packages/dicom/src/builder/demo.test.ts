import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RleLossless } from '../transfer-syntax.js';
import { buildDemoStudies } from './demo.js';
import { HEMODYNAMIC_WAVEFORM_STORAGE } from './hemodynamic-waveform.js';
import { XA_IMAGE_STORAGE } from './xa-run.js';

test('buildDemoStudies - a CT study and a study for every cardiology view', () => {
  const demo = buildDemoStudies();
  assert.equal(demo.ct.instances.length, 12);
  assert.equal(demo.stressEcho.clips.length, 16);
  assert.equal(demo.objects.length, 12 + 2 + 16 + 2);
  assert.equal(demo.ct.patientId, 'ATR-CT-0001');
  assert.equal(demo.echo.patientId, 'ATR-CARDIO-0001');
  assert.equal(demo.ecg.patientId, 'ATR-CARDIO-0001');
  assert.equal(demo.echo.transferSyntaxUid, RleLossless);
  assert.equal(demo.ecg.groups.length, 2);
  assert.equal(new Set(demo.stressEcho.clips.map((c) => c.stage)).size, 4);
  assert.equal(new Set(demo.stressEcho.clips.map((c) => c.view)).size, 4);
  // The XA run and the pressures are one catheterization study.
  assert.equal(demo.xa.sopClassUid, XA_IMAGE_STORAGE);
  assert.equal(demo.hemodynamic.sopClassUid, HEMODYNAMIC_WAVEFORM_STORAGE);
  assert.equal(demo.hemodynamic.studyInstanceUid, demo.xa.studyInstanceUid);
  // CT, echo, ECG, stress echo, catheterization.
  assert.equal(new Set(demo.objects.map((o) => o.studyInstanceUid)).size, 5);
  assert.equal(new Set(demo.objects.map((o) => o.sopInstanceUid)).size, demo.objects.length);
  const total = demo.objects.reduce((n, o) => n + o.byteLength, 0);
  assert.ok(total > 15e6 && total < 40e6, `total ${total}`);
  assert.equal(buildDemoStudies().echo.sopInstanceUid, demo.echo.sopInstanceUid);
});
