import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DicomJsonDataset } from '@atrium/dicom';
import { DimseStatusError, SopClass, cFind, withAssociation, type Association } from '@atrium/dimse';
import { smallCtSeries, startTestNode, type TestNode } from './test-support.js';

const text = (vr: string, value?: string) => (value === undefined ? { vr } : { vr, Value: [value] }) as DicomJsonDataset[string];

async function withFind<T>(node: TestNode, work: (a: Association) => Promise<T>, extended?: Buffer): Promise<T> {
  return withAssociation(
    {
      host: '127.0.0.1',
      port: node.dimse.port,
      callingAeTitle: 'WS1',
      calledAeTitle: 'ATRIUM',
      presentationContexts: [{ abstractSyntaxUid: SopClass.StudyRootFind }, { abstractSyntaxUid: SopClass.PatientRootFind }],
      ...(extended ? { extendedNegotiations: [{ sopClassUid: SopClass.StudyRootFind, serviceClassApplicationInformation: extended }] } : {}),
    },
    work,
  );
}

async function all(iterable: AsyncIterable<DicomJsonDataset>): Promise<DicomJsonDataset[]> {
  const out: DicomJsonDataset[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

async function seeded(): Promise<{ node: TestNode; a: ReturnType<typeof smallCtSeries>; b: ReturnType<typeof smallCtSeries> }> {
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  const a = smallCtSeries({ patient: { patientName: 'Müller^Anna', patientId: 'PID-A' }, study: { accessionNumber: 'ACC1', studyDate: '20240105' } });
  const b = smallCtSeries({ patient: { patientName: 'Doe^John', patientId: 'PID-B' }, study: { accessionNumber: 'ACC2', studyDate: '20230310' }, slices: 2 });
  for (const slice of [...a, ...b]) await node.archive.ingest.ingest([slice.bytes], { kind: 'import' });
  return { node, a, b };
}

test('C-FIND - Study Root at every level with wildcard, case-insensitive name, range and UID list matching', async () => {
  const { node, a, b } = await seeded();
  try {
    await withFind(node, async (assoc) => {
      const studies = await all(
        cFind(assoc, {
          sopClassUid: SopClass.StudyRootFind,
          identifier: {
            '00080005': text('CS', 'ISO_IR 192'),
            '00080052': text('CS', 'STUDY'),
            '00100010': { vr: 'PN', Value: [{ Alphabetic: 'mül*' }] },
            '0020000D': text('UI'),
            '00201208': text('IS'),
            '00080061': text('CS'),
          },
        }),
      );
      assert.equal(studies.length, 1);
      assert.equal(studies[0]!['0020000D']?.Value?.[0], a[0]!.studyInstanceUid);
      assert.equal(studies[0]!['00201208']?.Value?.[0], 3);
      assert.deepEqual(studies[0]!['00080061']?.Value, ['CT']);
      assert.equal(studies[0]!['00080052']?.Value?.[0], 'STUDY');

      const byDate = await all(cFind(assoc, { sopClassUid: SopClass.StudyRootFind, identifier: { '00080052': text('CS', 'STUDY'), '00080020': text('DA', '20230101-20231231'), '0020000D': text('UI') } }));
      assert.deepEqual(byDate.map((d) => d['0020000D']?.Value?.[0]), [b[0]!.studyInstanceUid]);

      const series = await all(cFind(assoc, { sopClassUid: SopClass.StudyRootFind, identifier: { '00080052': text('CS', 'SERIES'), '0020000D': text('UI', a[0]!.studyInstanceUid), '0020000E': text('UI'), '00080060': text('CS') } }));
      assert.deepEqual(series.map((s) => [s['0020000E']?.Value?.[0], s['00080060']?.Value?.[0]]), [[a[0]!.seriesInstanceUid, 'CT']]);

      const images = await all(
        cFind(assoc, {
          sopClassUid: SopClass.StudyRootFind,
          identifier: {
            '00080052': text('CS', 'IMAGE'),
            '0020000D': text('UI', a[0]!.studyInstanceUid),
            '0020000E': text('UI', a[0]!.seriesInstanceUid),
            '00080018': { vr: 'UI', Value: [a[0]!.sopInstanceUid, a[2]!.sopInstanceUid] },
          },
        }),
      );
      assert.deepEqual(images.map((i) => i['00080018']?.Value?.[0]).sort(), [a[0]!.sopInstanceUid, a[2]!.sopInstanceUid].sort());
    });
  } finally {
    await node.close();
  }
});

test('C-FIND - Patient Root PATIENT and STUDY levels', async () => {
  const { node, b } = await seeded();
  try {
    await withFind(node, async (assoc) => {
      const patients = await all(cFind(assoc, { sopClassUid: SopClass.PatientRootFind, identifier: { '00080052': text('CS', 'PATIENT'), '00100020': text('LO'), '00100010': { vr: 'PN', Value: [{ Alphabetic: 'DOE^JOHN' }] } } }));
      assert.deepEqual(patients.map((p) => p['00100020']?.Value?.[0]), ['PID-B']);
      const studies = await all(cFind(assoc, { sopClassUid: SopClass.PatientRootFind, identifier: { '00080052': text('CS', 'STUDY'), '00100020': text('LO', 'PID-B'), '0020000D': text('UI'), '00080050': text('SH') } }));
      assert.deepEqual(studies.map((s) => [s['0020000D']?.Value?.[0], s['00080050']?.Value?.[0]]), [[b[0]!.studyInstanceUid, 'ACC2']]);
    });
  } finally {
    await node.close();
  }
});

test('C-FIND - a key the index cannot match on fails with A900 instead of matching everything', async () => {
  const { node } = await seeded();
  try {
    await withFind(node, async (assoc) => {
      await assert.rejects(
        all(cFind(assoc, { sopClassUid: SopClass.StudyRootFind, identifier: { '00080052': text('CS', 'STUDY'), '00181030': text('LO', 'HEAD*') } })),
        (e: unknown) => e instanceof DimseStatusError && e.dicomStatus === 0xa900 && /\S/.test(e.errorComment ?? ''),
      );
      await assert.rejects(
        all(cFind(assoc, { sopClassUid: SopClass.StudyRootFind, identifier: { '0020000D': text('UI') } })),
        (e: unknown) => e instanceof DimseStatusError && e.dicomStatus === 0xa900 && /Query\/Retrieve Level/.test(e.errorComment ?? ''),
      );
    });
  } finally {
    await node.close();
  }
});

test('C-FIND - relational queries only when negotiated', async () => {
  const { node } = await seeded();
  try {
    const imageLevelWithoutParents = { '00080052': text('CS', 'IMAGE'), '00080018': text('UI') };
    await withFind(node, async (assoc) => {
      await assert.rejects(all(cFind(assoc, { sopClassUid: SopClass.StudyRootFind, identifier: imageLevelWithoutParents })), (e: unknown) => e instanceof DimseStatusError && e.dicomStatus === 0xa900);
    });
    await withFind(
      node,
      async (assoc) => {
        const images = await all(cFind(assoc, { sopClassUid: SopClass.StudyRootFind, identifier: imageLevelWithoutParents }));
        assert.equal(images.length, 5);
      },
      Buffer.from([1, 0, 0]),
    );
  } finally {
    await node.close();
  }
});

test('C-FIND - C-CANCEL stops the query engine before the next match', async () => {
  let produced = 0;
  let engineStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (engineStopped = resolve));
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' }, {
    find: async function* (request) {
      const { createFindHandler } = await import('./c-find-scp.js');
      const { createQueryEngine } = await import('../query/index.js');
      try {
        for await (const match of createFindHandler(createQueryEngine(node.archive))(request)) {
          produced++;
          yield match;
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
      } finally {
        engineStopped();
      }
    },
  });
  try {
    const slices = smallCtSeries({ slices: 6 });
    for (const slice of slices) await node.archive.ingest.ingest([slice.bytes], { kind: 'import' });
    const identifier = {
      '00080052': text('CS', 'IMAGE'),
      '0020000D': text('UI', slices[0]!.studyInstanceUid),
      '0020000E': text('UI', slices[0]!.seriesInstanceUid),
      '00080018': text('UI'),
    };
    await withFind(node, async (assoc) => {
      const controller = new AbortController();
      for await (const _ of cFind(assoc, { sopClassUid: SopClass.StudyRootFind, identifier, signal: controller.signal })) {
        controller.abort();
      }
      await stopped;
    });
    assert.ok(produced >= 1 && produced < 6, `the engine produced ${produced} of 6 matches`);
  } finally {
    await node.close();
  }
});
