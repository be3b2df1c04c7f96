import assert from 'node:assert/strict';
import test from 'node:test';
import { firstPartBody, toRgba } from './frames.js';

test('firstPartBody - extracts the first part of a multipart answer, passes a bare body through', () => {
  const body = new TextEncoder().encode('--b1\r\nContent-Type: application/octet-stream\r\n\r\n\x01\x02\x03\r\n--b1--\r\n');
  assert.deepEqual([...firstPartBody(body, 'multipart/related; type="application/octet-stream"; boundary=b1')], [1, 2, 3]);
  assert.deepEqual([...firstPartBody(new Uint8Array([9]), 'application/octet-stream')], [9]);
});

test('toRgba - converts 8-bit monochrome, MONOCHROME1, RGB and 16-bit frames', () => {
  const base = { rows: 1, columns: 2, bitsAllocated: 8, pixelRepresentation: 0, planarConfiguration: 0 };
  assert.deepEqual([...toRgba(new Uint8Array([10, 200]), { ...base, samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME2' })], [10, 10, 10, 255, 200, 200, 200, 255]);
  assert.deepEqual([...toRgba(new Uint8Array([0, 255]), { ...base, samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME1' })].slice(0, 4), [255, 255, 255, 255]);
  assert.deepEqual([...toRgba(new Uint8Array([1, 2, 3, 4, 5, 6]), { ...base, samplesPerPixel: 3, photometricInterpretation: 'RGB' })], [1, 2, 3, 255, 4, 5, 6, 255]);
  assert.deepEqual([...toRgba(new Uint8Array([1, 3, 4, 5, 6, 7]), { ...base, samplesPerPixel: 3, photometricInterpretation: 'RGB', planarConfiguration: 1 })], [1, 4, 6, 255, 3, 5, 7, 255]);
  const deep = new Uint8Array(new Int16Array([-100, 100]).buffer);
  assert.deepEqual([...toRgba(deep, { ...base, bitsAllocated: 16, pixelRepresentation: 1, samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME2' })], [0, 0, 0, 255, 255, 255, 255, 255]);
});
