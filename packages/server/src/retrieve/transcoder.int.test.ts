// The transcoder's decoded pixels against DCMTK's decompressors (dcmdjpeg, dcmdrle) on the corpus files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExplicitVrLittleEndian, ImplicitVrLittleEndian, readPart10 } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { pixelModuleOf } from './pixel-module.js';
import { readFrame } from './stored-bytes.js';
import { TranscoderPool } from './transcoder.js';

// The shared corpus lives beside the repository (`../shared/testdata/dev`), wherever the clone is.
const corpus = fileURLToPath(new URL('../../../../../shared/testdata/dev', import.meta.url));
const dir = join(corpus, 'orthanc-tests/TransferSyntaxes');
const hasDcmtk = (() => {
  try {
    execFileSync('dcmdjpeg', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function pixels(bytes: Uint8Array): Promise<Buffer> {
  const parsed = await readPart10([bytes]);
  return Buffer.from(bytes.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + parsed.pixelData!.length));
}

test('TranscoderPool - JPEG lossless (SV1 and any predictor), JPEG extended 12-bit and RLE decode to the same pixels as DCMTK', {
  skip: (!existsSync(dir) && 'corpus absent') || (!hasDcmtk && 'DCMTK absent'),
}, async () => {
  const archive = await openTestArchive();
  const pool = new TranscoderPool({ store: archive.store, maxThreads: 1 });
  const scratch = mkdtempSync(join(tmpdir(), 'atrium-transcode-'));
  try {
    for (const [ts, tool] of [
      ['1.2.840.10008.1.2.4.57', 'dcmdjpeg'],
      ['1.2.840.10008.1.2.4.51', 'dcmdjpeg'],
      ['1.2.840.10008.1.2.4.70', 'dcmdjpeg'],
      ['1.2.840.10008.1.2.5', 'dcmdrle'],
    ] as const) {
      const file = join(dir, `${ts}.dcm`);
      const result = await archive.ingest.ingest([readFileSync(file)], { kind: 'import' });
      const meta = (await archive.archive.getInstanceMetadata(result.sopInstanceUid))!;
      const out = await pool.transcode(meta, [ExplicitVrLittleEndian]);
      const chunks: Buffer[] = [];
      for await (const c of out.stream) chunks.push(c as Buffer);
      const ours = Buffer.concat(chunks);
      assert.equal((await readPart10([ours])).transferSyntaxUid, ExplicitVrLittleEndian, ts);
      const reference = join(scratch, `${ts}.dcm`);
      execFileSync(tool, ['+te', file, reference], { stdio: 'ignore' });
      assert.deepEqual(await pixels(ours), await pixels(readFileSync(reference)), `${ts}: pixels equal ${tool}'s`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await pool.close();
    await archive.cleanup();
  }
});

const segmentation = join(corpus, 'highdicom/seg_image_ct_binary.dcm');

test('TranscoderPool - the corpus 1-bit Segmentation (Implicit VR Little Endian) re-encoded in Explicit VR Little Endian equals DCMTK dcmconv +te (regression: C-GET conformance H1)', {
  skip: (!existsSync(segmentation) && `corpus file ${segmentation} absent`) || (!hasDcmtk && 'DCMTK absent'),
}, async () => {
  const archive = await openTestArchive();
  const pool = new TranscoderPool({ store: archive.store, maxThreads: 1 });
  const scratch = mkdtempSync(join(tmpdir(), 'atrium-transcode-'));
  try {
    const result = await archive.ingest.ingest([readFileSync(segmentation)], { kind: 'import' });
    const meta = (await archive.archive.getInstanceMetadata(result.sopInstanceUid))!;
    const out = await pool.transcode(meta, [ExplicitVrLittleEndian]);
    const chunks: Buffer[] = [];
    for await (const c of out.stream) chunks.push(c as Buffer);
    const ours = join(scratch, 'ours.dcm');
    writeFileSync(ours, Buffer.concat(chunks));
    const reference = join(scratch, 'dcmconv.dcm');
    execFileSync('dcmconv', ['+te', segmentation, reference], { stdio: 'ignore' });
    assert.equal((await readPart10([readFileSync(ours)])).transferSyntaxUid, ExplicitVrLittleEndian);
    assert.deepEqual(await pixels(readFileSync(ours)), await pixels(readFileSync(reference)));
    // Every element with the same VR and value. How sequence lengths are encoded may differ, and dcmjs writes
    // decimal strings back from their numbers ('1.000000' becomes '1'): DS values are compared as numbers.
    const elements = (path: string) =>
      execFileSync('dcmdump', ['-q', '+L', path], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => /^\s*\([0-9a-f]{4},[0-9a-f]{4}\)/.test(line) && !/^\s*\((fffe|0002),/.test(line))
        .map((line) => line.replace(/\s*#.*$/, '').replace(/Sequence with (explicit|undefined) length/, 'Sequence'))
        .map((line) => line.replace(/^(\s*\(....,....\) DS )\[(.*)\]$/, (_, head: string, v: string) => `${head}${v.split('\\').map(Number).join('\\')}`));
    assert.deepEqual(elements(ours), elements(reference));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await pool.close();
    await archive.cleanup();
  }
});

test('TranscoderPool - Deflated and Implicit VR Little Endian corpus files re-encoded without a pixel codec keep their pixels (DCMTK dcmconv as reference)', {
  skip: (!existsSync(dir) && 'corpus absent') || (!hasDcmtk && 'DCMTK absent'),
}, async () => {
  const archive = await openTestArchive();
  const pool = new TranscoderPool({ store: archive.store, maxThreads: 1 });
  const scratch = mkdtempSync(join(tmpdir(), 'atrium-transcode-'));
  try {
    for (const [file, target] of [
      [join(dir, '1.2.840.10008.1.2.1.99.dcm'), ExplicitVrLittleEndian],
      [join(dir, '1.2.840.10008.1.2.1.99.dcm'), ImplicitVrLittleEndian],
      [join(corpus, 'octave-dicom/CT-MONO2-16-ankle.dcm'), ExplicitVrLittleEndian],
    ] as const) {
      const ts = file.split('/').pop()!;
      const result = await archive.ingest.ingest([readFileSync(file)], { kind: 'import' });
      const meta = (await archive.archive.getInstanceMetadata(result.sopInstanceUid))!;
      const out = await pool.transcode(meta, [target]);
      const chunks: Buffer[] = [];
      for await (const c of out.stream) chunks.push(c as Buffer);
      const ours = Buffer.concat(chunks);
      assert.equal((await readPart10([ours])).transferSyntaxUid, target, `${ts} to ${target}`);
      const reference = join(scratch, `${ts}-${target}.dcm`);
      execFileSync('dcmconv', [target === ExplicitVrLittleEndian ? '+te' : '+ti', file, reference], { stdio: 'ignore' });
      assert.deepEqual(await pixels(ours), await pixels(readFileSync(reference)), `${ts} to ${target}: pixels equal dcmconv's`);
      await archive.archive.deleteInstance(result.sopInstanceUid);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await pool.close();
    await archive.cleanup();
  }
});

test('TranscoderPool - JPEG Baseline corpus files decoded frame by frame (as the server wires it) equal DCMTK dcmdjpeg pixel for pixel, in both native syntaxes and as WADO-RS frames', {
  skip: (!existsSync(dir) && 'corpus absent') || (!hasDcmtk && 'DCMTK absent'),
}, async () => {
  const archive = await openTestArchive();
  const scratch = mkdtempSync(join(tmpdir(), 'atrium-transcode-'));
  try {
    // YBR_FULL_422 single and multi-frame (the 87-frame GE clip is the benchmark's), and YBR_FULL.
    for (const file of [join(dir, '1.2.840.10008.1.2.4.50.dcm'), join(corpus, 'orthanc-tests/Issue164.dcm'), join(corpus, 'pydicom/examples_ybr_color.dcm'), join(corpus, 'pydicom/SC_rgb_jpeg_dcmtk.dcm')]) {
      if (!existsSync(file)) continue;
      const name = file.split('/').pop()!;
      const result = await archive.ingest.ingest([readFileSync(file)], { kind: 'import' });
      const meta = (await archive.archive.getInstanceMetadata(result.sopInstanceUid))!;
      const reference = join(scratch, `${name}.dcm`);
      execFileSync('dcmdjpeg', ['+te', file, reference], { stdio: 'ignore' });
      for (const target of [ExplicitVrLittleEndian, ImplicitVrLittleEndian]) {
        const out = await archive.transcoder.transcode(meta, [target]);
        const chunks: Buffer[] = [];
        for await (const c of out.stream) chunks.push(c as Buffer);
        const ours = Buffer.concat(chunks);
        assert.equal(out.size, ours.length, `${name} to ${target}: size known in advance`);
        const parsed = await readPart10([ours]);
        assert.equal(parsed.transferSyntaxUid, target);
        assert.equal(parsed.dataset['00280004']?.Value?.[0], 'RGB', `${name}: decoded colour is RGB, as dcmdjpeg writes it`);
        assert.deepEqual(await pixels(ours), await pixels(readFileSync(reference)), `${name} to ${target}: pixels equal dcmdjpeg's`);
      }
      // Frame by frame, as WADO-RS frames asks (an odd-length single frame carries dcmdjpeg's padding byte).
      const layout = (await archive.retrieve.layout(result.studyInstanceUid, result.seriesInstanceUid, result.sopInstanceUid))!;
      const module = await pixelModuleOf(archive.store, meta);
      const expected = await pixels(readFileSync(reference));
      const frameLength = Math.floor(expected.length / layout.frames.length);
      for (const [n, frame] of layout.frames.entries()) {
        const decoded = await archive.transcoder.transcodeFrames(module, layout.transferSyntaxUid, [await readFrame(archive.store, layout, frame)], ExplicitVrLittleEndian);
        assert.equal(decoded.photometricInterpretation, 'RGB');
        const ours = Buffer.from(decoded.frames[0]!);
        assert.deepEqual(ours, expected.subarray(n * ours.length, (n + 1) * ours.length), `${name} frame ${n + 1}: pixels equal dcmdjpeg's`);
        assert.ok(ours.length === frameLength || ours.length + 1 === frameLength, `${name} frame ${n + 1}: whole`);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await archive.cleanup();
  }
});
