import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePart10, generateUid, readPart10, type WritableDataset } from '@atrium/dicom';
import { datasetOf, runTool as run, startTestNode } from './test-support.js';

/*
 * Video transfer syntaxes (PS3.5 §8.2.5-8.2.7, §A.4.5-A.4.7) through real DCMTK peers: storescu sends an
 * H.264 and an HEVC endoscopy clip in their own syntaxes, Atrium keeps them as sent, and getscu, accepting only
 * that video syntax, receives the same data set back. Atrium never decodes video to store or send it, so the
 * stream here only needs the shape of one (Annex B start codes), not a playable picture.
 */

const skip = spawnSync('storescu', ['--version']).status !== 0 && 'DCMTK (storescu, getscu) not installed';
const VideoEndoscopicImageStorage = '1.2.840.10008.5.1.4.1.1.77.1.1.1';

/** An elementary stream of `bytes` bytes: NAL units behind Annex B start codes, deterministic filler between. */
function annexBStream(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 16) & 0xff || 1;
  }
  for (let at = 0; at + 5 < bytes; at += 4096) out.set([0, 0, 0, 1, 0x65], at);
  return out;
}

function videoClip(transferSyntaxUid: string, seed: number) {
  const uid = { study: generateUid(), series: generateUid(), instance: generateUid() };
  const dataset: WritableDataset = {
    '00080016': { vr: 'UI', Value: [VideoEndoscopicImageStorage] },
    '00080018': { vr: 'UI', Value: [uid.instance] },
    '00080060': { vr: 'CS', Value: ['ES'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Video^Vera' }] },
    '00100020': { vr: 'LO', Value: ['PID-VIDEO'] },
    '0020000D': { vr: 'UI', Value: [uid.study] },
    '0020000E': { vr: 'UI', Value: [uid.series] },
    '00180040': { vr: 'IS', Value: [30] },
    '00181063': { vr: 'DS', Value: [33.33] },
    '00280002': { vr: 'US', Value: [3] },
    '00280004': { vr: 'CS', Value: ['YBR_PARTIAL_420'] },
    '00280006': { vr: 'US', Value: [0] },
    '00280008': { vr: 'IS', Value: [60] },
    '00280009': { vr: 'AT', Value: ['00181063'] },
    '00280010': { vr: 'US', Value: [480] },
    '00280011': { vr: 'US', Value: [640] },
    '00280100': { vr: 'US', Value: [8] },
    '00280101': { vr: 'US', Value: [8] },
    '00280102': { vr: 'US', Value: [7] },
    '00280103': { vr: 'US', Value: [0] },
    // Larger than several PDUs, so the data set arrives in many P-DATA-TFs.
    '7FE00010': { vr: 'OB', Fragments: [annexBStream(600_000, seed)] },
  };
  return { uid, bytes: encodePart10({ dataset, transferSyntaxUid }) };
}

test('DCMTK storescu and getscu - H.264 and HEVC clips are stored and retrieved in their video syntax, unchanged', { skip }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'atrium-video-'));
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const target = ['-aet', 'ENDOSCOPE', '-aec', 'ATRIUM', '127.0.0.1', String(node.dimse.port)];
    const cases = [
      { name: 'h264', transferSyntaxUid: '1.2.840.10008.1.2.4.102', storescuProposes: '-xn', getscuPrefers: '+xn' },
      { name: 'hevc', transferSyntaxUid: '1.2.840.10008.1.2.4.107', storescuProposes: '-x4', getscuPrefers: '+x4' },
    ];
    for (const [i, c] of cases.entries()) {
      const clip = videoClip(c.transferSyntaxUid, i + 1);
      const file = join(work, `${c.name}.dcm`);
      writeFileSync(file, clip.bytes);

      // -R: propose just the file's class (storescu's default list has no video class), in the video syntax only.
      const stored = await run('storescu', ['-v', '-R', c.storescuProposes, ...target, file]);
      assert.equal(stored.code, 0, stored.out);
      assert.match(stored.out, /Received Store Response \(Success\)/, stored.out);
      const indexed = await node.archive.archive.findInstance(clip.uid.instance);
      assert.equal(indexed?.transferSyntaxUid, c.transferSyntaxUid, `${c.name} kept in its own syntax`);

      const got = join(work, `got-${c.name}`);
      mkdirSync(got);
      const get = await run('getscu', ['-v', c.getscuPrefers, '-od', got, '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${clip.uid.study}`, '-k', `SeriesInstanceUID=${clip.uid.series}`, '-k', `SOPInstanceUID=${clip.uid.instance}`, ...target]);
      assert.equal(get.code, 0, get.out);
      const [name] = readdirSync(got);
      assert.ok(name, get.out);
      const received = readFileSync(join(got, name));
      const parsed = await readPart10([received]);
      assert.equal(parsed.transferSyntaxUid, c.transferSyntaxUid);
      assert.ok(datasetOf(received).equals(datasetOf(clip.bytes)), `${c.name}: the data set came back byte for byte`);
    }
  } finally {
    await node.close();
    rmSync(work, { recursive: true, force: true });
  }
});
