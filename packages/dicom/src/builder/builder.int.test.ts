import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ImplicitVrLittleEndian, RleLossless } from '../transfer-syntax.js';
import { buildCtSeries } from './ct-series.js';
import { buildEcg12Lead, GENERAL_ECG_WAVEFORM_STORAGE } from './ecg-12-lead.js';
import { buildHemodynamicWaveform } from './hemodynamic-waveform.js';
import { synthesizeBytes } from './multiframe.js';
import { buildUltrasoundClip } from './ultrasound-clip.js';
import { readWithDcmjs } from './test-support.js';
import type { SyntheticObject } from './common.js';

const has = (tool: string): boolean => !spawnSync(tool, ['--help'], { stdio: 'ignore' }).error;
const noDciodvfy = !has('dciodvfy') && 'dciodvfy (dicom3tools) not installed';
const noDcmtk = !has('dcmdump') && 'dcmtk not installed';

const dir = mkdtempSync(join(tmpdir(), 'atrium-builder-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function save(name: string, object: SyntheticObject): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, await synthesizeBytes(object));
  return path;
}

/**
 * dciodvfy's findings, minus those accepted. None is accepted today: every object below validates clean against
 * its IOD. Add an entry here with the reason if a future change has to accept one.
 */
const ACCEPTED: readonly RegExp[] = [];

function dciodvfy(path: string): string[] {
  const out = spawnSync('dciodvfy', [path], { encoding: 'utf8' });
  return `${out.stdout}${out.stderr}`
    .split('\n')
    .filter((line) => /^(Error|Warning)/.test(line))
    .filter((line) => !ACCEPTED.some((re) => re.test(line)));
}

const objects: [string, () => SyntheticObject][] = [
  ['ct-explicit.dcm', () => buildCtSeries({ slices: 2, rows: 128, columns: 128 }).instances[0]!],
  ['ct-implicit.dcm', () => buildCtSeries({ slices: 1, rows: 128, columns: 128, transferSyntaxUid: ImplicitVrLittleEndian }).instances[0]!],
  ['ct-rle.dcm', () => buildCtSeries({ slices: 1, rows: 128, columns: 128, transferSyntaxUid: RleLossless }).instances[0]!],
  ['us-mono.dcm', () => buildUltrasoundClip({ frames: 4, rows: 120, columns: 160 })],
  ['us-rgb-rle.dcm', () => buildUltrasoundClip({ frames: 4, rows: 120, columns: 160, photometricInterpretation: 'RGB', transferSyntaxUid: RleLossless })],
  ['us-vector.dcm', () => buildUltrasoundClip({ frames: 4, rows: 120, columns: 160, frameIncrement: 'FrameTimeVector' })],
  ['ecg.dcm', () => buildEcg12Lead()],
  ['ecg-two-groups.dcm', () => buildEcg12Lead({ rhythmGroup: {} })],
  ['general-ecg-two-groups.dcm', () => buildEcg12Lead({ rhythmGroup: {}, sopClassUid: GENERAL_ECG_WAVEFORM_STORAGE })],
  ['hemodynamic.dcm', () => buildHemodynamicWaveform()],
];

for (const [name, build] of objects) {
  test(`builder - ${name} passes dciodvfy with no errors or warnings`, { skip: noDciodvfy }, async () => {
    const path = await save(name, build());
    assert.deepEqual(dciodvfy(path), []);
  });

  test(`builder - ${name} is read by dcmdump without complaint`, { skip: noDcmtk }, async () => {
    const object = build();
    const path = await save(name, object);
    const out = spawnSync('dcmdump', ['+P', '0008,0018', '+P', '0010,0020', path], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stderr, '');
    assert.match(out.stdout, new RegExp(`\\[${object.sopInstanceUid.replace(/\./g, '\\.')}\\x00?\\]`));
    assert.match(out.stdout, new RegExp(`\\[${object.patientId} ?\\]`));
  });
}

test('builder - dcmdrle decodes the RLE CT slice to the native pixel data', { skip: noDcmtk }, async () => {
  const options = { slices: 1, rows: 128, columns: 128 };
  const nativePath = await save('rle-native.dcm', buildCtSeries(options).instances[0]!);
  const rlePath = await save('rle-source.dcm', buildCtSeries({ ...options, transferSyntaxUid: RleLossless }).instances[0]!);
  const decodedPath = join(dir, 'rle-decoded.dcm');
  const out = spawnSync('dcmdrle', ['+te', rlePath, decodedPath], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const native = await readWithDcmjs(readFileSync(nativePath));
  const decoded = await readWithDcmjs(readFileSync(decodedPath));
  assert.deepEqual(new Uint8Array(decoded.dict['7FE00010']!.Value![0]), new Uint8Array(native.dict['7FE00010']!.Value![0]));
});

test('builder - dcmdrle decodes every frame of the RLE RGB clip to the native frames', { skip: noDcmtk }, async () => {
  const options = { frames: 5, rows: 64, columns: 96, photometricInterpretation: 'RGB' as const };
  const nativePath = await save('clip-native.dcm', buildUltrasoundClip(options));
  const rlePath = await save('clip-rle.dcm', buildUltrasoundClip({ ...options, transferSyntaxUid: RleLossless }));
  const decodedPath = join(dir, 'clip-decoded.dcm');
  const out = spawnSync('dcmdrle', ['+te', rlePath, decodedPath], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const native = await readWithDcmjs(readFileSync(nativePath));
  const decoded = await readWithDcmjs(readFileSync(decodedPath));
  const pixels = new Uint8Array(decoded.dict['7FE00010']!.Value![0]);
  assert.equal(pixels.byteLength, 5 * 64 * 96 * 3);
  assert.deepEqual(pixels, new Uint8Array(native.dict['7FE00010']!.Value![0]));
});
