import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getNumber } from './attribute-value.js';
import type { DicomJsonAttribute } from './dicom-json.js';
import type { ParsedInstance } from './parsed-instance.js';
import { Part10Reader } from './part10-reader.js';

// The shared corpus lives beside the repository (`../shared/testdata/dev`), wherever the clone is.
const CORPUS = fileURLToPath(new URL('../../../../shared/testdata/dev', import.meta.url));
const PYTHON = '/usr/bin/python3';
const skip = !existsSync(CORPUS) && 'corpus absent';

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (!/\.(md|txt|json)$/i.test(name)) out.push(path);
  }
  return out;
}

type Outcome = { file: string; result?: ParsedInstance; error?: unknown; bytes: Buffer };

/** Reads every corpus file once, in 64 KiB chunks as a socket would deliver them. */
function readCorpus(): Outcome[] {
  return walk(CORPUS).map((path) => {
    const bytes = readFileSync(path);
    const file = relative(CORPUS, path);
    try {
      const reader = new Part10Reader();
      for (let i = 0; i < bytes.length; i += 65536) reader.write(bytes.subarray(i, i + 65536));
      return { file, result: reader.end(), bytes };
    } catch (error) {
      return { file, error, bytes };
    }
  });
}

let cache: Outcome[] | undefined;
const corpus = (): Outcome[] => (cache ??= readCorpus());

test('Part10Reader corpus - every file parses or fails with a coded error', { skip }, () => {
  const outcomes = corpus();
  assert.ok(outcomes.length > 200);
  const failures = outcomes.filter((o) => o.error !== undefined);
  for (const f of failures) {
    const code = (f.error as { code?: string }).code;
    assert.match(code ?? '', /^ATRIUM_ERR_DICOM_/, `${f.file}: ${String(f.error)}`);
  }
  // The known broken files: two raw data sets without a preamble and one cut inside its pixel data.
  assert.deepEqual(
    failures.map((f) => `${f.file} ${(f.error as { code: string }).code}`).sort(),
    [
      'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.dcm ATRIUM_ERR_DICOM_NOT_PART10',
      'pydicom/MR_truncated.dcm ATRIUM_ERR_DICOM_TRUNCATED',
      'pydicom/no_meta.dcm ATRIUM_ERR_DICOM_NOT_PART10',
    ],
  );
  // A raw implicit VR data set (ACR-NEMA style) reads as a bare data set.
  const raw = readFileSync(join(CORPUS, 'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.dcm'));
  const reader = new Part10Reader({ format: 'dataset', transferSyntaxUid: '1.2.840.10008.1.2' });
  reader.write(raw);
  const bare = reader.end();
  assert.equal(bare.dataset['00100010']?.vr, 'PN');
  assert.equal(bare.frames.length, 1);
});

test('Part10Reader corpus - frames match Number of Frames and fragments open a codestream', { skip }, () => {
  let checked = 0;
  for (const { file, result, bytes } of corpus()) {
    if (!result?.pixelData) continue;
    checked++;
    assert.equal(result.frames.length, getNumber(result.dataset, 0x00280008) ?? 1, file);
    const ts = result.transferSyntaxUid;
    if (!result.pixelData.encapsulated || result.deflated) continue;
    const family = /^1\.2\.840\.10008\.1\.2\.4\.(5\d|70|8\d)$/.test(ts) ? 'jpeg' : /^1\.2\.840\.10008\.1\.2\.4\.9\d$/.test(ts) ? 'j2k' : '';
    for (const frame of result.frames) {
      const first = frame.fragments[0]!;
      const head = bytes.subarray(first.offset, first.offset + 2).toString('hex');
      if (family === 'jpeg') assert.equal(head, 'ffd8', file);
      if (family === 'j2k') assert.ok(head === 'ff4f' || head === '0000', `${file}: ${head}`);
    }
  }
  assert.ok(checked > 200);
});

/** Dumps pydicom's DICOM JSON of the top-level non-binary attributes of every file it can read. */
const PYDICOM_DUMP = `
import sys, json, os, warnings
warnings.simplefilter('ignore')
import pydicom
out = {}
for d, _, names in os.walk(sys.argv[1]):
    for n in names:
        p = os.path.join(d, n)
        try:
            ds = pydicom.dcmread(p)
        except Exception as e:
            continue
        top = {}
        for elem in ds:
            if elem.VR in ('SQ', 'OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'UN') or elem.tag.group == 0x7fe0:
                continue
            try:
                top['%08X' % elem.tag] = elem.to_json_dict(1024, lambda e: 'bulk')
            except Exception as e:
                top['%08X' % elem.tag] = {'error': str(e)}
        out[os.path.relpath(p, sys.argv[1])] = top
json.dump(out, sys.stdout)
`;

function pydicomJson(): Record<string, Record<string, DicomJsonAttribute & { error?: string }>> | undefined {
  if (!existsSync(PYTHON)) return undefined;
  const run = spawnSync(PYTHON, ['-c', PYDICOM_DUMP, CORPUS], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (run.status !== 0) return undefined;
  return JSON.parse(run.stdout) as Record<string, Record<string, DicomJsonAttribute & { error?: string }>>;
}

/**
 * Differences that are pydicom's, not ours (see docs/dicom-reader.md):
 * - an empty value among several is `""` in pydicom, `null` as PS3.18 §F.2.5 says;
 * - pydicom applies its private dictionary to private UN elements; Atrium keeps them UN (InlineBinary);
 * - pydicom cannot write some malformed DS values at all (`error`); Atrium keeps the text.
 */
function normalise(values: unknown[] | undefined): unknown[] | undefined {
  return values?.map((v) => (v === '' ? null : v));
}

test('Part10Reader corpus - top-level values match pydicom', { skip: skip || (!existsSync(PYTHON) && 'python3 absent') }, (t) => {
  const py = pydicomJson();
  if (!py) {
    t.skip('pydicom not available');
    return;
  }
  const ours = new Map(corpus().map((o) => [o.file, o.result]));
  let compared = 0;
  const differences: string[] = [];
  for (const [file, attributes] of Object.entries(py)) {
    const result = ours.get(file);
    if (!result) continue;
    for (const [tag, expected] of Object.entries(attributes)) {
      if (tag.endsWith('0000') || expected.error !== undefined) continue;
      const actual = result.dataset[tag];
      const isPrivate = (parseInt(tag.slice(0, 4), 16) & 1) === 1;
      if (isPrivate && actual?.vr === 'UN') continue;
      compared++;
      const same = actual?.vr === expected.vr && JSON.stringify(normalise(actual?.Value)) === JSON.stringify(normalise(expected.Value));
      if (!same) differences.push(`${file} ${tag}: pydicom ${JSON.stringify(expected)} atrium ${JSON.stringify(actual)}`);
    }
  }
  assert.deepEqual(differences, []);
  assert.ok(compared > 5000, `compared ${compared}`);
});

test('Part10Reader corpus - character set samples decode', { skip }, () => {
  const names = new Map(
    corpus()
      .filter((o) => o.file.startsWith('pydicom/charset/'))
      .map((o) => [o.file.slice('pydicom/charset/'.length), o.result?.dataset['00100010']?.Value?.[0]]),
  );
  assert.deepEqual(Object.fromEntries(names), {
    'chrFren.dcm': { Alphabetic: 'Buc^Jérôme' },
    'chrGerm.dcm': { Alphabetic: 'Äneas^Rüdiger' },
    'chrGreek.dcm': { Alphabetic: 'Διονυσιος' },
    'chrJapMulti.dcm': { Alphabetic: 'やまだ^たろう' },
    'chrRuss.dcm': { Alphabetic: 'Люкceмбypг' },
    'chrX1.dcm': { Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小東' },
  });
});
