import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { InflateError, RawInflater } from './raw-inflater.js';

function inflate(compressed: Uint8Array, chunk: number): Buffer {
  const parts: Buffer[] = [];
  const inflater = new RawInflater((b) => parts.push(Buffer.from(b)));
  for (let i = 0; i < compressed.length; i += chunk) inflater.write(compressed.subarray(i, i + chunk));
  inflater.end();
  return Buffer.concat(parts);
}

function pseudoRandom(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}

test('RawInflater - inflates stored, fixed and dynamic blocks in any chunking', () => {
  const text = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i} ${(i * 7) % 13}\n`).join(''));
  const data = Buffer.concat([pseudoRandom(70000), Buffer.alloc(100000, 3), text]);
  for (const level of [0, 1, 9]) {
    const compressed = deflateRawSync(data, { level });
    for (const chunk of [3, 1000, 65536]) assert.ok(inflate(compressed, chunk).equals(data), `level ${level} chunk ${chunk}`);
  }
  assert.equal(inflate(deflateRawSync(Buffer.alloc(0)), 1).length, 0);
  assert.equal(inflate(deflateRawSync(Buffer.from('a')), 1).toString(), 'a');
});

test('RawInflater - reports a stream cut short or corrupt', () => {
  const compressed = deflateRawSync(pseudoRandom(5000).toString('hex'));
  assert.throws(() => inflate(compressed.subarray(0, compressed.length - 3), 100), InflateError);
  assert.throws(() => inflate(Uint8Array.of(0xff, 0xff, 0xff), 10), InflateError);
});

test('RawInflater - ignores bytes after the final block', () => {
  const compressed = Buffer.concat([deflateRawSync(Buffer.from('hello')), Buffer.from([0, 0])]);
  assert.equal(inflate(compressed, 2).toString(), 'hello');
});
