// FHIR search latency and create throughput through Atrium's HTTP API, beside the same queries in SQLite directly
// (the floor).
//   npm run bench -- bench-fhir        (100,000 patients, 1,000,000 observations: about 15 minutes on 2 cores)
// Environment: SCALE (default 1: 100,000 patients, 10 observations each), REPEAT (queries per kind, default 200),
// ATRIUM_DB_SYNCHRONOUS (of the FHIR database, default FULL, as the server runs).
// The server runs in this process (one event loop for client and server), listening on 127.0.0.1; the data are
// loaded through the API as transaction Bundles of 500 patients and their observations.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { loadConfig } from '../src/config/config.ts';
import { buildHttpServer } from '../src/http/http-server.ts';
import { openArchive } from '../src/main.ts';

const scale = Number(process.env.SCALE ?? 1);
const PATIENTS = Math.max(100, Math.round(100_000 * scale));
const OBS_PER_PATIENT = 10;
const REPEAT = Number(process.env.REPEAT ?? 200);
const BATCH = 500;
const FAMILIES = Array.from({ length: 1000 }, (_, i) => `Fam${i.toString(36)}son`);
const CODES = Array.from({ length: 20 }, (_, i) => `${1000 + i}-${i % 10}`);
const LOINC = 'http://loinc.org';
const MRN = 'urn:oid:1.2.840.555';

const dir = mkdtempSync(join(tmpdir(), 'atrium-bench-fhir-'));
const config = loadConfig(
  {
    ATRIUM_DATA_DIR: dir,
    ATRIUM_LOG_LEVEL: 'silent',
    ATRIUM_HTTP_HOST: '127.0.0.1',
    ATRIUM_HTTP_PORT: '0',
    ...(process.env.ATRIUM_DB_SYNCHRONOUS ? { ATRIUM_DB_SYNCHRONOUS: process.env.ATRIUM_DB_SYNCHRONOUS } : {}),
  },
  dir,
);
const archive = await openArchive(config);
const app = await buildHttpServer(archive);
const base = `${await app.listen({ host: '127.0.0.1', port: 0 })}/fhir`;

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
  identifier: [{ system: MRN, value: `MRN${i}` }],
  name: [{ family: FAMILIES[i % FAMILIES.length]!, given: [`Given${i}`] }],
  gender: i % 2 ? 'male' : 'female',
  birthDate: `19${String(40 + (i % 60)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 10}`,
});
const observation = (p: number, k: number, subject: string) => {
  const day = new Date(Date.UTC(2022, 0, 1) + ((p * 7 + k * 37) % 1095) * 86_400_000).toISOString();
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code: CODES[(p + k) % CODES.length]! }] },
    subject: { reference: subject },
    effectiveDateTime: day,
    valueQuantity: { value: 50 + ((p + k) % 100), unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
};

async function fhir(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const response = await fetch(`${base}/${path}`, {
    method,
    headers: { accept: 'application/fhir+json', ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 400)}`);
  return text ? JSON.parse(text) : undefined;
}

// ---- load: transaction Bundles through the API; the floor the same rows in plain tables ----
const patientIds: string[] = new Array(PATIENTS);
let fhirLoadMs = 0;
const t0 = performance.now();
for (let first = 0; first < PATIENTS; first += BATCH) {
  const last = Math.min(PATIENTS, first + BATCH);
  const entry: unknown[] = [];
  for (let i = first; i < last; i++) {
    const fullUrl = `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    entry.push({ fullUrl, resource: patient(i), request: { method: 'POST', url: 'Patient' } });
    for (let k = 0; k < OBS_PER_PATIENT; k++) entry.push({ resource: observation(i, k, fullUrl), request: { method: 'POST', url: 'Observation' } });
  }
  const t = performance.now();
  const response = await fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry }, { prefer: 'return=minimal' });
  fhirLoadMs += performance.now() - t;
  for (let i = first; i < last; i++) {
    const location = response.entry[(i - first) * (1 + OBS_PER_PATIENT)].response.location as string;
    patientIds[i] = /\/Patient\/([^/]+)\//.exec(location)![1]!;
  }
  floor.transaction(() => {
    for (let i = first; i < last; i++) {
      const p = patient(i);
      floorPatient.run(patientIds[i], p.name[0]!.family.toLowerCase(), p.name[0]!.given[0], `MRN${i}`, JSON.stringify({ ...p, id: patientIds[i] }));
      for (let k = 0; k < OBS_PER_PATIENT; k++) {
        const o = observation(i, k, `Patient/${patientIds[i]}`);
        floorObservation.run(`o${i}-${k}`, patientIds[i], o.code.coding[0]!.code, o.effectiveDateTime, JSON.stringify(o));
      }
    }
  })();
  if ((last / BATCH) % 10 === 0) process.stderr.write(`loaded ${last}/${PATIENTS} patients\r`);
}
const loadSeconds = (performance.now() - t0) / 1000;
const resources = PATIENTS * (1 + OBS_PER_PATIENT);
console.log(
  `Loaded ${PATIENTS} patients and ${PATIENTS * OBS_PER_PATIENT} observations in ${loadSeconds.toFixed(0)} s; ` +
    `FHIR transaction Bundles of ${BATCH * (1 + OBS_PER_PATIENT)} resources: ${(resources / (fhirLoadMs / 1000)).toFixed(0)} resources/s`,
);

// ---- queries ----
function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p95: at(0.95) };
}
const rand = (n: number, i: number) => (i * 7919 + 13) % n;
const family = (i: number) => FAMILIES[rand(FAMILIES.length, i)]!.toLowerCase();
const pid = (i: number) => patientIds[rand(PATIENTS, i)]!;
const kinds: Array<{ name: string; fhir: (i: number) => string; floor: (i: number) => unknown[] }> = [
  {
    name: 'Patient?name=&lt;family&gt; (100 matches, first 20)',
    fhir: (i) => `Patient?name=${family(i)}&_count=20`,
    floor: (i) => floor.prepare('select json from patient where family >= ? and family < ? limit 20').all(family(i), `${family(i)}\uffff`),
  },
  {
    name: 'Patient?identifier=&lt;system&gt;\\|&lt;value&gt;',
    fhir: (i) => `Patient?identifier=${encodeURIComponent(`${MRN}|MRN${rand(PATIENTS, i)}`)}`,
    floor: (i) => floor.prepare('select json from patient where mrn = ?').all(`MRN${rand(PATIENTS, i)}`),
  },
  {
    name: 'Observation?patient=&lt;id&gt;&code=&lt;system&gt;\\|&lt;code&gt;',
    fhir: (i) => `Observation?patient=${pid(i)}&code=${encodeURIComponent(`${LOINC}|${CODES[rand(PATIENTS, i) % CODES.length]}`)}`,
    floor: (i) => floor.prepare('select json from observation where patient = ? and code = ?').all(pid(i), CODES[rand(PATIENTS, i) % CODES.length]),
  },
  {
    name: 'Observation?patient=&lt;id&gt;&date=ge2023-01-01&_sort=-date',
    fhir: (i) => `Observation?patient=${pid(i)}&date=ge2023-01-01&_sort=-date`,
    floor: (i) => floor.prepare("select json from observation where patient = ? and date >= '2023-01-01' order by date desc").all(pid(i)),
  },
];
console.log(`\n| query (${REPEAT} runs each, over HTTP) | FHIR median ms | FHIR p95 ms | SQLite floor median ms | ratio |`);
console.log('|---|---|---|---|---|');
for (const kind of kinds) {
  const fhirSamples: number[] = [];
  const floorSamples: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    let t = performance.now();
    const bundle = await fhir('GET', kind.fhir(i));
    fhirSamples.push(performance.now() - t);
    const count = ((bundle.entry as unknown[] | undefined) ?? []).length;
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
const CONCURRENCY = 16;
const sync = config.database.synchronous;
const rate = (n: number, since: number) => n / ((performance.now() - since) / 1000);
let t = performance.now();
for (let i = 0; i < CREATES; i++) await fhir('POST', 'Observation', observation(i, 99, `Patient/${patientIds[i]}`), { prefer: 'return=minimal' });
const sequentialRate = rate(CREATES, t);
t = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < CREATES) {
      const i = next++;
      await fhir('POST', 'Observation', observation(i, 98, `Patient/${patientIds[i]}`), { prefer: 'return=minimal' });
    }
  }),
);
const concurrentRate = rate(CREATES, t);
t = performance.now();
await fhir(
  'POST',
  '',
  {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Array.from({ length: CREATES }, (_, i) => ({ resource: observation(i, 97, `Patient/${patientIds[i]}`), request: { method: 'POST', url: 'Observation' } })),
  },
  { prefer: 'return=minimal' },
);
const bundleRate = rate(CREATES, t);
const floorRate = (synchronous: string, k: number) => {
  floor.pragma(`synchronous = ${synchronous}`);
  const since = performance.now();
  for (let i = 0; i < CREATES; i++) {
    const o = observation(i, k, `Patient/${patientIds[i]}`);
    floor.transaction(() => floorObservation.run(`o${i}-${k}`, patientIds[i], o.code.coding[0]!.code, o.effectiveDateTime, JSON.stringify(o)))();
  }
  return rate(CREATES, since);
};
const floorFull = floorRate('FULL', 96);
const floorNormal = floorRate('NORMAL', 95);
console.log(`\n| create (${CREATES} Observations, over HTTP) | per second |`);
console.log('|---|---|');
console.log(`| FHIR create, one request at a time (synchronous=${sync}) | ${sequentialRate.toFixed(0)} |`);
console.log(`| FHIR create, ${CONCURRENCY} requests in flight (group commit) | ${concurrentRate.toFixed(0)} |`);
console.log(`| FHIR transaction Bundle of ${CREATES} | ${bundleRate.toFixed(0)} |`);
console.log(`| SQLite floor: one insert per transaction, synchronous=FULL | ${floorFull.toFixed(0)} |`);
console.log(`| SQLite floor: one insert per transaction, synchronous=NORMAL | ${floorNormal.toFixed(0)} |`);

await app.close();
await archive.close();
floor.close();
rmSync(dir, { recursive: true, force: true });
