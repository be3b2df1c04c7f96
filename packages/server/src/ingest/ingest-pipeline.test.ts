import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCtSeries, encodePart10, readPart10, getString, type SyntheticInstance, type WritableDataset } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { instanceBlobKey } from './blob-key.js';
import { recoverBlobIntents } from './recover-blob-intents.js';
import { recoverStagedInstances } from './recover-staged-instances.js';
import { IngestPipeline } from './ingest-pipeline.js';
import type { BlobStore, StagedBlob } from '@atrium/store';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { fsck } from '../fsck/fsck.js';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ct = (overrides: Parameters<typeof buildCtSeries>[0] = {}) =>
  buildCtSeries({ slices: 3, rows: 64, columns: 64, ...overrides });

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A copy of the object with one attribute changed: same SOP Instance UID, other bytes. */
async function altered(instance: SyntheticInstance, description: string): Promise<Uint8Array> {
  const parsed = await readPart10([instance.bytes]);
  const dataset: WritableDataset = { ...parsed.dataset, '0008103E': { vr: 'LO', Value: [description] } };
  const pixelData = instance.bytes.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + parsed.pixelData!.length);
  dataset['7FE00010'] = { vr: 'OW', Bytes: pixelData };
  return encodePart10({ dataset, transferSyntaxUid: parsed.transferSyntaxUid });
}

/**
 * The two ways bytes reach the pipeline: whole in memory (what DIMSE collects of a short data set, an import of a
 * small file) and streamed (STOW-RS parts, large files); both must give the same results.
 */
const SHAPES = {
  whole: (bytes: Uint8Array) => [bytes],
  streamed: (bytes: Uint8Array) =>
    (async function* () {
      yield bytes.subarray(0, 1000);
      yield bytes.subarray(1000);
    })(),
} as const;

/** Staging files holding bytes (the store keeps a few empty spares ready). */
async function stagedFiles(archive: Awaited<ReturnType<typeof openTestArchive>>): Promise<string[]> {
  const dir = join(archive.config.store.root, '.staging');
  const names: string[] = [];
  for (const name of await readdir(dir)) if ((await stat(join(dir, name))).size > 0) names.push(name);
  return names;
}

for (const [shape, as] of Object.entries(SHAPES)) {
  test(`ingest (${shape}) - stores a CT series: index, counts, blob bytes as received`, async () => {
    const archive = await openTestArchive();
    try {
      const series = ct();
      for (const slice of series.instances) {
        const r = await archive.ingest.ingest(as(slice.bytes), { kind: 'import' });
        assert.equal(r.outcome, 'stored');
        assert.equal(r.sopInstanceUid, slice.sopInstanceUid);
        assert.equal(r.studyInstanceUid, series.studyInstanceUid);
        assert.equal(r.size, slice.bytes.byteLength);
      }
      const stats = await archive.archive.stats();
      assert.deepEqual([stats.patients, stats.studies, stats.series, stats.instances], [1, 1, 1, 3]);
      assert.equal(stats.byModality.CT?.instances, 3);
      const stored = await archive.archive.findInstance(series.instances[1]!.sopInstanceUid);
      assert.ok(stored);
      const bytes = await readAll(await archive.store.get(stored.blobKey));
      assert.deepEqual(new Uint8Array(bytes), series.instances[1]!.bytes, 'stored bytes are the received bytes');
      const meta = await archive.archive.getInstanceMetadata(series.instances[1]!.sopInstanceUid);
      assert.equal(getString(meta!.dataset, '00100020'), series.patientId);
      assert.equal(meta!.frames.length, 1);
      assert.equal(meta!.dataset['7FE00010']?.BulkDataURI, 'bulk/7FE00010');
      assert.equal(meta!.dataset['7FE00010']?.Value, undefined, 'pixel data is not copied into the index');
    } finally {
      await archive.cleanup();
    }
  });

  test(`ingest (${shape}) - duplicates: identical bytes are a no-op, other bytes follow the policy`, async () => {
    for (const policy of ['keep', 'replace', 'reject'] as const) {
      const archive = await openTestArchive({ ATRIUM_DUPLICATE_POLICY: policy });
      try {
        const slice = ct().instances[0]!;
        assert.equal((await archive.ingest.ingest(as(slice.bytes), { kind: 'import' })).outcome, 'stored');
        const again = await archive.ingest.ingest(as(slice.bytes), { kind: 'import' });
        assert.equal(again.outcome, 'identical');
        const before = await archive.archive.findInstance(slice.sopInstanceUid);
        const other = await altered(slice, 'Changed description');
        if (policy === 'reject') {
          await assert.rejects(archive.ingest.ingest(as(other), { kind: 'import' }), (e: Error & { dicomStatus?: number }) => {
            assert.match(e.message, /already stored with other content/);
            assert.equal(e.dicomStatus, 0x0111);
            return true;
          });
          continue;
        }
        const r = await archive.ingest.ingest(as(other), { kind: 'import' });
        const after = await archive.archive.findInstance(slice.sopInstanceUid);
        if (policy === 'keep') {
          assert.equal(r.outcome, 'kept-existing');
          assert.ok(r.warnings.some((w) => /kept the stored copy/.test(w)));
          assert.equal(after!.digest, before!.digest);
        } else {
          assert.equal(r.outcome, 'replaced');
          assert.notEqual(after!.digest, before!.digest);
          // The replaced blob goes once the new one is in place, after the index flush.
          await archive.ingest.flush();
          assert.equal(await archive.store.head(before!.blobKey), undefined, 'the replaced blob is deleted');
          const meta = await archive.archive.getInstanceMetadata(slice.sopInstanceUid);
          assert.equal(getString(meta!.dataset, '0008103E'), 'Changed description');
        }
        assert.equal((await archive.archive.stats()).instances, 1);
        assert.ok((await fsck(archive)).clean);
      } finally {
        await archive.cleanup();
      }
    }
  });

  test(`ingest (${shape}) - a copy that differs only in its file meta information is the same instance, whatever the policy`, async () => {
    for (const policy of ['keep', 'replace', 'reject'] as const) {
      const archive = await openTestArchive({ ATRIUM_DUPLICATE_POLICY: policy });
      try {
        const slice = ct({ seed: 9 }).instances[0]!;
        assert.equal((await archive.ingest.ingest(as(slice.bytes), { kind: 'import' })).outcome, 'stored');
        const stored = await archive.archive.findInstance(slice.sopInstanceUid);
        // What a round trip through another PACS brings back: the same data set behind a meta header of its own.
        const parsed = await readPart10([slice.bytes]);
        const dataset = slice.bytes.subarray(parsed.datasetOffset);
        const again = await archive.ingest.ingestDataset(
          as(dataset),
          { transferSyntaxUid: parsed.transferSyntaxUid, sopClassUid: slice.sopClassUid, sopInstanceUid: slice.sopInstanceUid },
          { kind: 'dimse', callingAeTitle: 'OTHER_PACS' },
        );
        assert.notEqual(again.digest, stored!.digest, 'the files differ');
        assert.equal(again.outcome, 'identical', policy);
        assert.deepEqual(again.warnings, []);
        assert.equal((await archive.archive.findInstance(slice.sopInstanceUid))!.blobKey, stored!.blobKey, 'the stored copy stays');
        assert.ok((await fsck(archive)).clean);
      } finally {
        await archive.cleanup();
      }
    }
  });

  test(`ingest (${shape}) - rejects what is not an archivable instance, with the reason, and stores nothing`, async () => {
    const archive = await openTestArchive();
    try {
      const slice = ct().instances[0]!;
      const cases: [string, Uint8Array, RegExp][] = [
        ['not DICOM', new TextEncoder().encode('hello, this is not DICOM at all'.repeat(10)), /DICM|Part 10/i],
        ['truncated', slice.bytes.subarray(0, slice.bytes.byteLength - 100), /truncat|ends/i],
      ];
      const parsed = await readPart10([slice.bytes]);
      const noStudy = { ...parsed.dataset };
      delete noStudy['0020000D'];
      delete noStudy['7FE00010'];
      cases.push(['no Study Instance UID', encodePart10({ dataset: noStudy, transferSyntaxUid: parsed.transferSyntaxUid }), /Study Instance UID \(0020,000D\) is missing/]);
      const badUid = { ...noStudy, '0020000D': { vr: 'UI' as const, Value: ['1.2.abc'] } };
      cases.push(['bad UID', encodePart10({ dataset: badUid, transferSyntaxUid: parsed.transferSyntaxUid }), /'1\.2\.abc' is not a valid UID/]);
      const dicomdir = { ...noStudy, '00080016': { vr: 'UI' as const, Value: ['1.2.840.10008.1.3.10'] } };
      cases.push(['DICOMDIR', encodePart10({ dataset: dicomdir, transferSyntaxUid: parsed.transferSyntaxUid }), /DICOMDIR/]);
      for (const [name, bytes, reason] of cases) {
        await assert.rejects(archive.ingest.ingest(as(bytes), { kind: 'import' }), reason, name);
      }
      assert.equal((await archive.archive.stats()).instances, 0);
      const report = await fsck(archive);
      assert.ok(report.clean, JSON.stringify(report.problems));
      for await (const blob of archive.store.list('')) assert.fail(`nothing may be left in the store: '${blob.key}'`);
      assert.deepEqual(await stagedFiles(archive), [], 'nothing may be left in staging');
    } finally {
      await archive.cleanup();
    }
  });

  test(`ingest (${shape}) - a bare data set (as C-STORE delivers it) is stored as a Part 10 file with a meta header`, async () => {
    const archive = await openTestArchive();
    try {
      const slice = ct().instances[0]!;
      const parsed = await readPart10([slice.bytes]);
      const dataset = slice.bytes.subarray(parsed.datasetOffset);
      const r = await archive.ingest.ingestDataset(
        as(dataset),
        { transferSyntaxUid: parsed.transferSyntaxUid, sopClassUid: slice.sopClassUid, sopInstanceUid: slice.sopInstanceUid },
        { kind: 'dimse', callingAeTitle: 'MODALITY1' },
      );
      assert.equal(r.outcome, 'stored');
      const stored = await archive.archive.findInstance(slice.sopInstanceUid);
      const bytes = await readAll(await archive.store.get(stored!.blobKey));
      const reread = await readPart10([bytes]);
      assert.equal(getString(reread.fileMetaInformation, '00020016'), 'MODALITY1');
      assert.equal(getString(reread.fileMetaInformation, '00020003'), slice.sopInstanceUid);
      assert.deepEqual(new Uint8Array(bytes.subarray(reread.datasetOffset)), new Uint8Array(dataset), 'data set bytes unchanged');
    } finally {
      await archive.cleanup();
    }
  });

  test(`ingest (${shape}) - a study filed under another patient is refused, not moved`, async () => {
    const archive = await openTestArchive();
    try {
      const first = ct({ seed: 7 });
      await archive.ingest.ingest(as(first.instances[0]!.bytes), { kind: 'import' });
      const parsed = await readPart10([first.instances[1]!.bytes]);
      const dataset: WritableDataset = { ...parsed.dataset, '00100020': { vr: 'LO', Value: ['SOMEONE-ELSE'] } };
      delete dataset['7FE00010'];
      const bytes = encodePart10({ dataset, transferSyntaxUid: parsed.transferSyntaxUid });
      await assert.rejects(archive.ingest.ingest(as(bytes), { kind: 'import' }), /SOMEONE-ELSE|patient/i);
      assert.equal((await archive.archive.stats()).patients, 1);
    } finally {
      await archive.cleanup();
    }
  });
}

/**
 * What a crash between an index commit and its rename leaves: `stagedBytes` staged, and the instance committed with a
 * blob intent naming them, owned by a process that no longer runs.
 */
async function commitWithoutRename(archive: Awaited<ReturnType<typeof openTestArchive>>, instance: SyntheticInstance, stagedBytes: Uint8Array) {
  const parsed = await readPart10([instance.bytes]);
  const staged = await archive.store.stage([stagedBytes]);
  await staged.flush();
  const digest = createHash('sha256').update(instance.bytes).digest('hex');
  const blobKey = instanceBlobKey(instance.studyInstanceUid, instance.seriesInstanceUid, instance.sopInstanceUid, digest);
  await archive.archive.commitInstance({
    parsed,
    blobKey,
    size: instance.bytes.byteLength,
    digest,
    source: { kind: 'import' },
    duplicatePolicy: 'keep',
    stagingId: staged.id,
    owner: `${hostname()}:${2 ** 22 + 12345}`,
  });
  return { staged, blobKey };
}

test('recoverBlobIntents - staged bytes a power cut left incomplete are not published, and their instance is forgotten', async () => {
  const archive = await openTestArchive();
  try {
    const [a, b] = ct({ seed: 4 }).instances;
    // The index flush and the staged bytes' flush overlap: a power cut can keep the first and lose part of the second.
    const crashedWith = async (instance: SyntheticInstance, stagedBytes: Uint8Array) =>
      (await commitWithoutRename(archive, instance, stagedBytes)).blobKey;
    const zeroedTail = Uint8Array.from(a!.bytes);
    zeroedTail.fill(0, zeroedTail.length - 512);
    const sameSize = await crashedWith(a!, zeroedTail);
    const short = await crashedWith(b!, b!.bytes.subarray(0, b!.bytes.length - 100));

    const report = await recoverBlobIntents(archive.store, archive.archive, archive.logger);
    assert.deepEqual(report.published, []);
    assert.deepEqual(report.removed.sort(), [a!.sopInstanceUid, b!.sopInstanceUid].sort());
    assert.equal(await archive.store.head(sameSize), undefined, 'bytes that differ from the digest are not kept');
    assert.equal(await archive.store.head(short), undefined);
    assert.equal(await archive.archive.findInstance(a!.sopInstanceUid), undefined);
    assert.deepEqual(await archive.archive.listBlobIntents(), []);
    const after = await fsck(archive, { verifyDigests: true });
    assert.ok(after.clean, JSON.stringify(after.problems));
  } finally {
    await archive.cleanup();
  }
});

test('recoverBlobIntents - finishes a commit whose rename a crash interrupted, and forgets one whose bytes are gone', async () => {
  const archive = await openTestArchive();
  try {
    const [a, b] = ct({ seed: 3 }).instances;
    // What a crash after the index commit and before the rename leaves: staged bytes and an intent naming them.
    const crashed = (instance: SyntheticInstance) => commitWithoutRename(archive, instance, instance.bytes);
    const first = await crashed(a!);
    const second = await crashed(b!);
    await second.staged.discard(); // its bytes did not survive (say, staging was cleaned by hand)
    const before = await fsck(archive);
    assert.deepEqual(before.problems.map((p) => p.kind).sort(), ['missing-blob', 'missing-blob', 'unfinished-commit', 'unfinished-commit'], 'a dead owner\'s unfinished commits are problems until recovered');

    const report = await recoverBlobIntents(archive.store, archive.archive, archive.logger);
    assert.deepEqual(report.published, [first.blobKey]);
    assert.deepEqual(report.removed, [b!.sopInstanceUid]);
    assert.deepEqual(await archive.archive.listBlobIntents(), []);
    const after = await fsck(archive, { verifyDigests: true });
    assert.ok(after.clean, JSON.stringify(after.problems));
    assert.equal(after.instancesChecked, 1);
    const bytes = await readAll(await archive.store.get(first.blobKey));
    assert.deepEqual(new Uint8Array(bytes), a!.bytes);
  } finally {
    await archive.cleanup();
  }
});

test('ingest - an answered instance is readable under its key at once; its bytes move there once the index is flushed', async () => {
  const archive = await openTestArchive();
  try {
    const slice = ct({ seed: 11 }).instances[0]!;
    const r = await archive.ingest.ingest([slice.bytes], { kind: 'import' });
    const stored = await archive.archive.findInstance(r.sopInstanceUid);
    // Answered on the flushed staged bytes and the commit: the key reads them whether or not they have moved yet.
    assert.deepEqual(new Uint8Array(await readAll(await archive.store.get(stored!.blobKey))), slice.bytes);
    assert.equal((await archive.store.head(stored!.blobKey))?.size, slice.bytes.byteLength);
    await archive.ingest.flush();
    assert.equal((await stat(join(archive.config.store.root, stored!.blobKey))).size, slice.bytes.byteLength);
    assert.deepEqual(await stagedFiles(archive), []);
    assert.deepEqual(await archive.archive.listBlobIntents(), []);
  } finally {
    await archive.cleanup();
  }
});

test('ingest - a copy arriving while the first copy\'s bytes are still being flushed is answered once they are on disk', async () => {
  const archive = await openTestArchive();
  try {
    const slice = ct({ seed: 14 }).instances[0]!;
    // The first staged object's flush waits for a gate: its commit is made, its bytes are not yet on disk.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let first = true;
    const gated = (staged: StagedBlob): StagedBlob => ({
      id: staged.id,
      size: staged.size,
      flush: () => gate.then(() => staged.flush()),
      commit: (key, options) => staged.commit(key, options),
      publishWhen: (key, ready, options) => staged.publishWhen(key, ready, options),
      read: () => staged.read(),
      discard: () => staged.discard(),
    });
    const store = new Proxy(archive.store, {
      get(target, property) {
        if (property === 'stage') {
          return async (...args: Parameters<BlobStore['stage']>) => {
            const staged = await target.stage(...args);
            if (!first) return staged;
            first = false;
            return gated(staged);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const pipeline = new IngestPipeline({ ...archive, store });
    const one = pipeline.ingest([slice.bytes], { kind: 'import' });
    for (let i = 0; i < 400 && !(await archive.archive.findInstance(slice.sopInstanceUid)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(await archive.archive.findInstance(slice.sopInstanceUid), 'the first copy is committed');
    let answered = false;
    const two = pipeline.ingest([slice.bytes], { kind: 'import' }).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(answered, false, 'the second copy waits for the first copy\'s bytes');
    openGate();
    assert.deepEqual([(await one).outcome, (await two).outcome], ['stored', 'identical']);
    await pipeline.flush();
  } finally {
    await archive.cleanup();
  }
});

test('recoverStagedInstances - an instance whose index commit a power cut lost is ingested again from its staged bytes; a cut-short one is removed', async () => {
  const archive = await openTestArchive();
  try {
    const [a, b] = ct({ seed: 12 }).instances;
    const staging = join(archive.config.store.root, '.staging');
    // What a power cut after the answer and before the index flush leaves: flushed staged bytes, no row, no
    // intent, in a staging file of a process that is gone (no process has this id).
    const dead = (n: number) => `7ffffffe${n.toString(16).padStart(16, '0')}`;
    await writeFile(join(staging, dead(1)), a!.bytes);
    await writeFile(join(staging, dead(2)), b!.bytes.subarray(0, 700));
    await writeFile(join(staging, dead(3)), new Uint8Array(0));
    const report = await recoverStagedInstances(archive.store, archive.ingest, archive.logger);
    assert.deepEqual(report.ingested, [a!.sopInstanceUid]);
    assert.equal(report.discarded, 2);
    await archive.ingest.flush();
    const stored = await archive.archive.findInstance(a!.sopInstanceUid);
    assert.deepEqual(new Uint8Array(await readAll(await archive.store.get(stored!.blobKey))), a!.bytes);
    assert.equal(await archive.archive.findInstance(b!.sopInstanceUid), undefined);
    assert.deepEqual((await readdir(staging)).filter((name) => name.startsWith('7ffffffe')), []);
    const after = await fsck(archive, { verifyDigests: true });
    assert.ok(after.clean, JSON.stringify(after.problems));
  } finally {
    await archive.cleanup();
  }
});

test('recoverBlobIntents - the staged bytes of an instance deleted since are discarded, not ingested again later', async () => {
  const archive = await openTestArchive();
  try {
    const a = ct({ seed: 13 }).instances[0]!;
    const { staged } = await commitWithoutRename(archive, a, a.bytes);
    await archive.archive.deleteInstance(a.sopInstanceUid);
    await recoverBlobIntents(archive.store, archive.archive, archive.logger);
    assert.equal(await archive.store.resumeStaged(staged.id), undefined);
    assert.equal(await archive.archive.findInstance(a.sopInstanceUid), undefined);
  } finally {
    await archive.cleanup();
  }
});

test('ingest - leaves no blob intents behind once flushed', async () => {
  const archive = await openTestArchive({ ATRIUM_DUPLICATE_POLICY: 'replace' });
  try {
    const slice = ct({ seed: 4 }).instances[0]!;
    await archive.ingest.ingest([slice.bytes], { kind: 'import' });
    await archive.ingest.ingest([await altered(slice, 'v2')], { kind: 'import' });
    await archive.ingest.flush();
    assert.deepEqual(await archive.archive.listBlobIntents(), []);
    assert.ok((await fsck(archive)).clean);
  } finally {
    await archive.cleanup();
  }
});

test('fsck - finds orphan and missing blobs and repairs without losing data', async () => {
  const archive = await openTestArchive();
  try {
    const [a, b, c] = ct({ seed: 5 }).instances;
    await archive.ingest.ingest([a!.bytes], { kind: 'import' });
    await archive.ingest.ingest([b!.bytes], { kind: 'import' });
    // An orphan: a whole instance in the store the index does not know (a restore from backup, say).
    const orphanKey = instanceBlobKey(c!.studyInstanceUid, c!.seriesInstanceUid, c!.sopInstanceUid, 'f'.repeat(64));
    await archive.store.put(orphanKey, [c!.bytes]);
    // An unreadable orphan.
    await archive.store.put('dicom/zz/garbage.dcm', [new TextEncoder().encode('not dicom')]);
    // A missing blob.
    const lost = await archive.archive.findInstance(b!.sopInstanceUid);
    await archive.store.delete(lost!.blobKey);

    const report = await fsck(archive);
    assert.equal(report.clean, false);
    assert.deepEqual(report.problems.map((p) => p.kind).sort(), ['missing-blob', 'orphan-blob', 'orphan-blob']);

    const repaired = await fsck(archive, { repair: true });
    assert.equal(repaired.repairs.length, 3, repaired.repairs.join('\n'));
    assert.ok(await archive.archive.findInstance(c!.sopInstanceUid), 'the readable orphan is indexed');
    assert.equal(await archive.archive.findInstance(b!.sopInstanceUid), undefined);
    assert.ok(await archive.store.head('quarantine/dicom/zz/garbage.dcm'), 'the unreadable orphan is kept aside');
    const final = await fsck(archive, { verifyDigests: true });
    assert.ok(final.clean, JSON.stringify(final.problems));
    assert.equal(final.instancesChecked, 2);
  } finally {
    await archive.cleanup();
  }
});

test('fsck --verify-digests - finds bytes changed behind the index', async () => {
  const archive = await openTestArchive();
  try {
    const slice = ct({ seed: 9 }).instances[0]!;
    await archive.ingest.ingest([slice.bytes], { kind: 'import' });
    const stored = await archive.archive.findInstance(slice.sopInstanceUid);
    const corrupted = new Uint8Array(slice.bytes);
    corrupted[corrupted.length - 1] = corrupted.at(-1)! ^ 0xff;
    await archive.store.put(stored!.blobKey, [corrupted]);
    assert.ok((await fsck(archive)).clean, 'same size: only the digest can tell');
    const report = await fsck(archive, { verifyDigests: true });
    assert.deepEqual(report.problems.map((p) => p.kind), ['digest-mismatch']);
  } finally {
    await archive.cleanup();
  }
});
