// FHIR search latency and create throughput beside the same queries in SQLite directly (the floor).
//   npm run bench -- bench-fhir        (100,000 patients, 1,000,000 observations: several minutes on 2 cores)
// Environment: SCALE (default 1: 100,000 patients, 10 observations each), REPEAT (queries per kind, default 200),
// SYNC (synchronous of the FHIR database, default FULL, as the server runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { openDatabase } from '@atrium/db';
import { createLogger } from '../src/logger.ts';
import { FhirService, type FhirRequest } from '../src/fhir/index.ts';

const scale = Number(process.env.SCALE ?? 1);
const PATIENTS = Math.max(100, Math.round(100_000 * scale));
const OBS_PER_PATIENT = 10;
const REPEAT = Number(process.env.REPEAT ?? 200);
const BATCH = 1000;
const FAMILIES = Array.from({ length: 1000 }, (_, i) => `Fam${i.toString(36)}son`);
const CODES = Array.from({ length: 20 }, (_, i) => `${1000 + i}-${i % 10}`);
const LOINC = 'http://loinc.org';
const MRN = 'urn:oid:1.2.840.555';

const dir = mkdtempSync(join(tmpdir(), 'atrium-bench-fhir-'));
const database = await openDatabase({ kind: 'sqlite', path: join(dir, 'fhir.sqlite'), synchronous: (process.env.SYNC as 'FULL') ?? 'FULL' });
const logger = createLogger({ log: { level: 'silent' } } as never);
const service = new FhirService({ database, logger });
const floor = new Sqlite(join(dir, 'floor.sqlite'));
floor.pragma('journal_mode = WAL');
floor.pragma('synchronous = NORMAL');
floor.exec(`
  create table patient (id text primary key, family text, given text, mrn text, json text);
  create index patient_family on patient (family);
  create index patient_mrn on patient (mrn);
  create table observation (id text primary key, patient text, code text, date text, json text);
  create index observation_patient_code_date on observation (patient, code, date);`);
const floorPatient = floor.prepare('insert into patient values (?, ?, ?, ?, ?)');
const floorObservation = floor.prepare('insert into observation values (?, ?, ?, ?, ?)');

const patient = (i: number) => ({
  resourceType: 'Patient',
  id: `p${i}`,
  identifier: [{ system: MRN, value: `MRN${i}` }],
  name: [{ family: FAMILIES[i % FAMILIES.length]!, given: [`Given${i}`] }],
  gender: i % 2 ? 'male' : 'female',
  birthDate: `19${String(40 + (i % 60)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 10}`,
});
const observation = (p: number, k: number) => {
  const day = new Date(Date.UTC(2022, 0, 1) + ((p * 7 + k * 37) % 1095) * 86_400_000).toISOString();
  return {
    resourceType: 'Observation',
    id: `o${p}-${k}`,
    status: 'final',
    code: { coding: [{ system: LOINC, code: CODES[(p + k) % CODES.length]! }] },
    subject: { reference: `Patient/p${p}` },
    effectiveDateTime: day,
    valueQuantity: { value: 50 + ((p + k) % 100), unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
};

// ---- load ----
const t0 = performance.now();
for (let first = 0; first < PATIENTS; first += BATCH) {
  const last = Math.min(PATIENTS, first + BATCH);
  await service.repository.transaction(async (trx) => {
    for (let i = first; i < last; i++) {
      await service.write(trx, service.validate('Patient', patient(i)), 'POST', undefined, { relink: false });
      for (let k = 0; k < OBS_PER_PATIENT; k++) {
        await service.write(trx, service.validate('Observation', observation(i, k)), 'POST', undefined, { relink: false });
      }
    }
  });
  floor.transaction(() => {
    for (let i = first; i < last; i++) {
      const p = patient(i);
      floorPatient.run(p.id, p.name[0]!.family.toLowerCase(), p.name[0]!.given[0], `MRN${i}`, JSON.stringify(p));
      for (let k = 0; k < OBS_PER_PATIENT; k++) {
        const o = observation(i, k);
        floorObservation.run(o.id, `p${i}`, o.code.coding[0]!.code, o.effectiveDateTime, JSON.stringify(o));
      }
    }
  })();
  if ((last / BATCH) % 10 === 0) process.stderr.write(`loaded ${last}/${PATIENTS} patients\r`);
}
const loadSeconds = (performance.now() - t0) / 1000;
const resources = PATIENTS * (1 + OBS_PER_PATIENT);
console.log(`Loaded ${PATIENTS} patients and ${PATIENTS * OBS_PER_PATIENT} observations in ${loadSeconds.toFixed(0)} s (FHIR store and floor together; ${(resources / loadSeconds).toFixed(0)} resources/s)`);

// ---- queries ----
const base = 'http://127.0.0.1/fhir';
const get = (url: string): FhirRequest => {
  const [path, query] = url.split('?') as [string, string];
  return { method: 'GET', path: path.split('/'), query: [...new URLSearchParams(query)], base };
};
function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p95: at(0.95) };
}
const rand = (n: number, i: number) => (i * 7919 + 13) % n;
const kinds: Array<{ name: string; fhir: (i: number) => string; floor: (i: number) => unknown[]; expect: (i: number) => number }> = [
  {
    name: 'Patient?name=<family> (100 matches, first 20)',
    fhir: (i) => `Patient?name=${FAMILIES[rand(FAMILIES.length, i)]!.toLowerCase()}&_count=20`,
    floor: (i) => floor.prepare('select json from patient where family >= ? and family < ? limit 20').all(FAMILIES[rand(FAMILIES.length, i)]!.toLowerCase(), `${FAMILIES[rand(FAMILIES.length, i)]!.toLowerCase()}\uffff`),
    expect: () => Math.min(20, PATIENTS / FAMILIES.length),
  },
  {
    name: 'Patient?identifier=<system>|<value>',
    fhir: (i) => `Patient?identifier=${encodeURIComponent(`${MRN}|MRN${rand(PATIENTS, i)}`)}`,
    floor: (i) => floor.prepare('select json from patient where mrn = ?').all(`MRN${rand(PATIENTS, i)}`),
    expect: () => 1,
  },
  {
    name: 'Observation?patient=<id>&code=<system>|<code>',
    fhir: (i) => `Observation?patient=p${rand(PATIENTS, i)}&code=${encodeURIComponent(`${LOINC}|${CODES[rand(PATIENTS, i) % CODES.length]}`)}`,
    floor: (i) => floor.prepare('select json from observation where patient = ? and code = ?').all(`p${rand(PATIENTS, i)}`, CODES[rand(PATIENTS, i) % CODES.length]),
    expect: () => 1,
  },
  {
    name: 'Observation?patient=<id>&date=ge2023-01-01&_sort=-date',
    fhir: (i) => `Observation?patient=p${rand(PATIENTS, i)}&date=ge2023-01-01&_sort=-date`,
    floor: (i) => floor.prepare("select json from observation where patient = ? and date >= '2023-01-01' order by date desc").all(`p${rand(PATIENTS, i)}`),
    expect: () => -1,
  },
];
console.log(`\n| query (${REPEAT} runs each) | FHIR median ms | FHIR p95 ms | SQLite floor median ms | ratio |`);
console.log('|---|---|---|---|---|');
for (const kind of kinds) {
  const fhirSamples: number[] = [];
  const floorSamples: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    let t = performance.now();
    const response = await service.handle(get(kind.fhir(i)));
    fhirSamples.push(performance.now() - t);
    const count = ((response.body?.entry as unknown[] | undefined) ?? []).length;
    t = performance.now();
    const rows = kind.floor(i);
    floorSamples.push(performance.now() - t);
    if (count !== rows.length) throw new Error(`${kind.name}: FHIR found ${count}, the floor ${rows.length} (run ${i})`);
  }
  const f = stats(fhirSamples);
  const s = stats(floorSamples);
  console.log(`| ${kind.name} | ${f.median.toFixed(2)} | ${f.p95.toFixed(2)} | ${s.median.toFixed(3)} | ${(f.median / s.median).toFixed(0)}x |`);
}

// ---- create throughput ----
const CREATES = Math.min(2000, PATIENTS);
let t = performance.now();
for (let i = 0; i < CREATES; i++) {
  const { id: _id, ...body } = observation(i, 99);
  await service.handle({ method: 'POST', path: ['Observation'], query: [], body, base });
}
const apiRate = CREATES / ((performance.now() - t) / 1000);
t = performance.now();
const bundle = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: Array.from({ length: CREATES }, (_, i) => {
    const { id: _id, ...resource } = observation(i, 98);
    return { resource, request: { method: 'POST', url: 'Observation' } };
  }),
};
await service.handle({ method: 'POST', path: [], query: [], body: bundle, base });
const bundleRate = CREATES / ((performance.now() - t) / 1000);
const insert = floor.prepare('insert into observation values (?, ?, ?, ?, ?)');
t = performance.now();
for (let i = 0; i < CREATES; i++) {
  const o = observation(i, 97);
  floor.transaction(() => insert.run(o.id, `p${i}`, o.code.coding[0]!.code, o.effectiveDateTime, JSON.stringify(o)))();
}
const floorRate = CREATES / ((performance.now() - t) / 1000);
console.log(`\n| create (${CREATES} Observations) | per second |`);
console.log('|---|---|');
console.log(`| FHIR create, one transaction each (synchronous=${process.env.SYNC ?? 'FULL'}) | ${apiRate.toFixed(0)} |`);
console.log(`| FHIR transaction Bundle of ${CREATES} | ${bundleRate.toFixed(0)} |`);
console.log(`| SQLite floor: one insert per transaction (synchronous=NORMAL) | ${floorRate.toFixed(0)} |`);

await database.close();
floor.close();
rmSync(dir, { recursive: true, force: true });
