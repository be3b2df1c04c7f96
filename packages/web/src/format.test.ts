import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHumanName } from './chart/chart-model.js';
import { countOf, formatPersonName } from './format.js';

test('formatPersonName - DICOM PN as Family, Prefix Given Middle Suffix, letters as stored', () => {
  assert.equal(formatPersonName('Demo^Ct'), 'Demo, Ct');
  assert.equal(formatPersonName('DOE^JANE^Q^Dr^Jr=ドウ^ジェーン'), 'DOE, Dr JANE Q Jr');
  assert.equal(formatPersonName('PACSMAN'), 'PACSMAN');
  assert.equal(formatPersonName(''), '');
});

// Regression: the chart showed 'DEMO, Ct' for the patient the worklist showed as 'Demo, Ct'.
test('formatPersonName and formatHumanName - one patient reads the same in the worklist and the chart', () => {
  for (const [pn, name] of [
    ['Demo^Ct', { family: 'Demo', given: ['Ct'] }],
    ['CHARTWELL^ERIN', { family: 'CHARTWELL', given: ['ERIN'] }],
    ['Lovelace^Ada^King', { family: 'Lovelace', given: ['Ada', 'King'] }],
  ] as const) {
    assert.equal(formatHumanName([{ use: 'official', ...name, given: [...name.given] }]), formatPersonName(pn));
  }
});

test('countOf - singular for one, plural otherwise', () => {
  assert.equal(countOf(1, 'image'), '1 image');
  assert.equal(countOf(0, 'image'), '0 images');
  assert.equal(countOf(12, 'series', 'series'), '12 series');
});
