// Atrium's DICOMweb against an independent client: dicomweb-client (the library OHIF is built on) over a real
// socket. The client is written for browsers (XMLHttpRequest); a minimal XMLHttpRequest over Node's fetch stands in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { buildCtSeries, buildEcg12Lead, readPart10, RleLossless, type DicomJsonDataset } from '@atrium/dicom';
import { startServer } from '../main.js';
import { testConfig } from '../test-support.js';
import { createLogger } from '../logger.js';

const require = createRequire(import.meta.url);

/** Just enough XMLHttpRequest for dicomweb-client: asynchronous requests, response types arraybuffer/json/text. */
class FetchXmlHttpRequest {
  readyState = 0;
  status = 0;
  response: unknown = null;
  responseType = '';
  withCredentials = false;
  onreadystatechange: (() => void) | null = null;
  onloadstart: (() => void) | null = null;
  onloadend: (() => void) | null = null;
  onprogress: (() => void) | null = null;
  #method = 'GET';
  #url = '';
  readonly #headers = new Headers();
  #responseHeaders = new Headers();

  open(method: string, url: string): void {
    this.#method = method;
    this.#url = url;
    this.readyState = 1;
  }
  setRequestHeader(name: string, value: string): void {
    this.#headers.set(name, value);
  }
  getResponseHeader(name: string): string | null {
    return this.#responseHeaders.get(name);
  }
  getAllResponseHeaders(): string {
    return [...this.#responseHeaders].map(([k, v]) => `${k}: ${v}\r\n`).join('');
  }
  send(body?: ArrayBuffer | Uint8Array | string): void {
    void fetch(this.#url, { method: this.#method, headers: this.#headers, ...(body !== undefined ? { body: body as NonNullable<RequestInit['body']> } : {}) })
      .then(async (res) => {
        this.status = res.status;
        this.#responseHeaders = res.headers;
        const bytes = await res.arrayBuffer();
        if (this.responseType === 'arraybuffer') this.response = bytes;
        else {
          const text = new TextDecoder().decode(bytes);
          this.response = this.responseType === 'json' ? (text ? JSON.parse(text) : null) : text;
        }
      })
      .catch(() => {
        this.status = 0;
      })
      .finally(() => {
        this.readyState = 4;
        this.onreadystatechange?.();
      });
  }
}

interface Client {
  storeInstances(o: { datasets: ArrayBuffer[]; studyInstanceUID?: string }): Promise<unknown>;
  searchForStudies(o?: { queryParams?: Record<string, unknown> }): Promise<DicomJsonDataset[]>;
  searchForSeries(o: { studyInstanceUID: string }): Promise<DicomJsonDataset[]>;
  searchForInstances(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<DicomJsonDataset[]>;
  retrieveSeriesMetadata(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<DicomJsonDataset[]>;
  retrieveInstance(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; mediaTypes?: object[] }): Promise<ArrayBuffer>;
  retrieveSeries(o: { studyInstanceUID: string; seriesInstanceUID: string; mediaTypes?: object[] }): Promise<ArrayBuffer[]>;
  retrieveInstanceFrames(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; frameNumbers: number[]; mediaTypes?: object[] }): Promise<ArrayBuffer[]>;
  retrieveInstanceRendered(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; mediaTypes?: object[]; queryParams?: object }): Promise<ArrayBuffer[]>;
  retrieveBulkData(o: { BulkDataURI: string; byteRange?: { start: number; end: number } }): Promise<ArrayBuffer[]>;
}

const toArrayBuffer = (b: Uint8Array): ArrayBuffer => b.slice().buffer as ArrayBuffer;

test('dicomweb-client - STOW, QIDO, metadata, retrieve, frames, rendered and bulk data against a running Atrium', async () => {
  const config = testConfig();
  const server = await startServer(config, createLogger(config));
  const previous = (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest;
  (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = FetchXmlHttpRequest;
  try {
    const { api } = require('dicomweb-client') as { api: { DICOMwebClient: new (o: { url: string }) => Client } };
    const client = new api.DICOMwebClient({ url: `${server.httpUrl}/dicom-web` });
    const ct = buildCtSeries({ slices: 3, rows: 32, columns: 32, seed: 51, transferSyntaxUid: RleLossless, patient: { patientId: 'CLIENT-1' } });
    const ecg = buildEcg12Lead({ seed: 52, patient: { patientId: 'CLIENT-1' } });
    await client.storeInstances({ datasets: [...ct.instances.map((i) => toArrayBuffer(i.bytes)), toArrayBuffer(ecg.bytes)] });

    const studies = await client.searchForStudies({ queryParams: { PatientID: 'CLIENT-1' } });
    assert.deepEqual(studies.map((s) => s['0020000D']!.Value![0]).sort(), [ct.studyInstanceUid, ecg.studyInstanceUid].sort());
    const series = await client.searchForSeries({ studyInstanceUID: ct.studyInstanceUid });
    assert.equal(series[0]!['0020000E']!.Value![0], ct.seriesInstanceUid);
    const instances = await client.searchForInstances({ studyInstanceUID: ct.studyInstanceUid, seriesInstanceUID: ct.seriesInstanceUid });
    assert.equal(instances.length, 3);

    const metadata = await client.retrieveSeriesMetadata({ studyInstanceUID: ct.studyInstanceUid, seriesInstanceUID: ct.seriesInstanceUid });
    assert.deepEqual(metadata.map((m) => m['00080018']!.Value![0]), ct.instances.map((i) => i.sopInstanceUid));
    assert.equal(metadata[0]!['00020010'], undefined, 'metadata carries no file meta information');

    const ids = { studyInstanceUID: ct.studyInstanceUid, seriesInstanceUID: ct.seriesInstanceUid, sopInstanceUID: ct.instances[0]!.sopInstanceUid };
    // (dicomweb-client 0.11.3 refuses any mediaTypes option for instance and series retrieval, so only its
    // default, Accept without transfer-syntax, is exercised here: Explicit VR Little Endian.)
    const decoded = await client.retrieveInstance(ids);
    assert.equal((await readPart10([new Uint8Array(decoded)])).transferSyntaxUid, '1.2.840.10008.1.2.1');
    const whole = await client.retrieveSeries({ studyInstanceUID: ct.studyInstanceUid, seriesInstanceUID: ct.seriesInstanceUid });
    assert.equal(whole.length, 3);
    for (const part of whole) assert.equal((await readPart10([new Uint8Array(part)])).dataset['0020000E']!.Value![0], ct.seriesInstanceUid);

    const [frame] = await client.retrieveInstanceFrames({ ...ids, frameNumbers: [1], mediaTypes: [{ mediaType: 'application/octet-stream', transferSyntaxUID: '*' }] });
    assert.equal(new DataView(frame!).getUint32(0, true), 2, 'the RLE frame as stored');
    const [nativeFrame] = await client.retrieveInstanceFrames({ ...ids, frameNumbers: [1] });
    assert.equal(nativeFrame!.byteLength, 32 * 32 * 2, 'decoded to native by default');

    const [png] = await client.retrieveInstanceRendered({ ...ids, mediaTypes: [{ mediaType: 'image/png' }] });
    assert.equal((await sharp(Buffer.from(png!)).metadata()).width, 32);

    const ecgMeta = await client.retrieveSeriesMetadata({ studyInstanceUID: ecg.studyInstanceUid, seriesInstanceUID: ecg.seriesInstanceUid });
    const uri = ((ecgMeta[0]!['54000100']!.Value![0] as DicomJsonDataset)['54001010']!).BulkDataURI!;
    assert.ok(uri.startsWith(`${server.httpUrl}/dicom-web/studies/`));
    const [waveform] = await client.retrieveBulkData({ BulkDataURI: uri });
    const parsed = await readPart10([ecg.bytes]);
    const ref = parsed.bulkData.find((r) => r.path === '54000100/0/54001010')!;
    assert.deepEqual(new Uint8Array(waveform!), ecg.bytes.subarray(ref.offset, ref.offset + ref.length!));
  } finally {
    (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = previous;
    await server.close();
    rmSync(config.dataDir, { recursive: true, force: true });
  }
});
