import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from './transfer-syntax.js';
import { encodePart10 } from './writer.js';
import type { WritableDataset } from './writer.js';

const noDcmtk = spawnSync('dcmdump', ['--help'], { stdio: 'ignore' }).error !== undefined && 'dcmtk not installed';
const dir = mkdtempSync(join(tmpdir(), 'atrium-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const dataset: WritableDataset = {
  '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
  '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
  '00080018': { vr: 'UI', Value: ['1.2.826.0.1.3680043.2.1125.7'] },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen', Ideographic: '山田^太郎' }] },
  '00100020': { vr: 'LO', Value: ['PID-1'] },
  '00181030': { vr: 'LO', Value: ['Odd'] },
  '00280010': { vr: 'US', Value: [4] },
  '00281050': { vr: 'DS', Value: [40, -600] },
  '00209165': { vr: 'AT', Value: ['00200032'] },
  '00081115': {
    vr: 'SQ',
    Value: [
      {
        '0020000E': { vr: 'UI', Value: ['1.2.3.4.5'] },
        '00081140': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['1.2.3.4.5.6'] } }] },
      },
    ],
  },
  '7FE00010': { vr: 'OW', Bytes: new Uint8Array([1, 0, 2, 0, 3, 0, 4, 0]) },
};

for (const transferSyntaxUid of [ExplicitVrLittleEndian, ImplicitVrLittleEndian, ExplicitVrBigEndian, DeflatedExplicitVrLittleEndian]) {
  test(`writer - dcmdump reads a file in ${transferSyntaxUid} with the values written`, { skip: noDcmtk }, () => {
    const path = join(dir, `${transferSyntaxUid}.dcm`);
    writeFileSync(path, encodePart10({ dataset, transferSyntaxUid }));
    const out = spawnSync('dcmdump', ['-M', '-Un', path], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stderr, '');
    const text = out.stdout;
    assert.ok(text.includes(`(0002,0010) UI [${transferSyntaxUid}]`), text);
    assert.ok(text.includes('[Müller^Jürgen=山田^太郎]'), text);
    assert.match(text, /\(0018,1030\) LO \[Odd ?\]/);
    assert.match(text, /\(0028,0010\) US 4 /);
    assert.match(text, /\(0028,1050\) DS \[40\\-600\]/);
    assert.match(text, /\(0020,9165\) AT \(0020,0032\)/);
    assert.match(text, /\(0008,1155\) UI \[1\.2\.3\.4\.5\.6\]/);
    assert.match(text, /\(7fe0,0010\) OW 0001\\0002\\0003\\0004/);
    // Defined lengths only: nothing needed a delimiter in the encoding.
    assert.ok(!/undefined length/.test(text), text);
  });
}

test('writer - dcmdump finds the group length and meta header consistent', { skip: noDcmtk }, () => {
  const path = join(dir, 'meta.dcm');
  writeFileSync(path, encodePart10({ dataset, transferSyntaxUid: ExplicitVrLittleEndian }));
  // +E: print parser errors to stderr; +L: print long values in full.
  const out = spawnSync('dcmdump', ['+E', '+L', path], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stderr, '');
  const groupLength = /\(0002,0000\) UL (\d+)/.exec(out.stdout);
  assert.ok(groupLength, out.stdout);
  assert.match(out.stdout, /\(0002,0001\) OB 00\\01/);
});
