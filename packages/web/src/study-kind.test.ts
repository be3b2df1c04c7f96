import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasImages, isWaveformStudy, seriesViewUrl, studyViewUrl } from './study-kind.js';

test('hasImages - waveform and report modalities have no image; any image modality, or none known, has', () => {
  assert.equal(hasImages(['ECG']), false);
  assert.equal(hasImages(['HD', 'SR']), false);
  assert.equal(hasImages(['HD', 'XA']), true);
  assert.equal(hasImages(['CT']), true);
  assert.equal(hasImages(['XYZ']), true);
  assert.equal(hasImages([]), true);
});

// Regression: "View in Atrium" on a resting ECG opened an image viewer saying the study had no image series.
test('studyViewUrl - a waveform-only study opens the cardiology view, any other the image viewer', () => {
  assert.equal(isWaveformStudy(['ECG']), true);
  assert.equal(isWaveformStudy(['SR']), false);
  assert.equal(studyViewUrl('1.2', ['ECG']), '/cardio/1.2');
  assert.equal(studyViewUrl('1.2', ['ECG', 'SR']), '/cardio/1.2');
  assert.equal(studyViewUrl('1.2', ['HD', 'XA']), '/studies/1.2/view');
  assert.equal(studyViewUrl('1.2', ['SR']), '/studies/1.2/view');
});

test('seriesViewUrl - a waveform series opens in the cardiology view at that series', () => {
  assert.equal(seriesViewUrl('1.2', '1.2.3', 'HD'), '/cardio/1.2/series/1.2.3');
  assert.equal(seriesViewUrl('1.2', '1.2.3', 'CT'), '/studies/1.2/series/1.2.3');
});
