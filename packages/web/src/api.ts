/** The web app's view of Atrium's HTTP API: the worklist, DICOMweb (QIDO-RS, WADO-RS) and the study actions. */

/** What the server inlines into index.html (packages/server/src/web-app/spa.ts). */
export interface BootConfig {
  aeTitle: string;
  dicomHost: string;
  dicomPort: number;
  dicomEnabled: boolean;
  ohifPath: string | null;
}

export function readBootConfig(document: Document): BootConfig {
  const text = document.getElementById('atrium-config')?.textContent;
  // `npm run dev` serves index.html without it: show the defaults of a fresh install.
  const fallback: BootConfig = { aeTitle: 'ATRIUM', dicomHost: '0.0.0.0', dicomPort: 11112, dicomEnabled: true, ohifPath: '/ohif/' };
  return text ? { ...fallback, ...(JSON.parse(text) as Partial<BootConfig>) } : fallback;
}

/** The host a person should send images to: the configured one, or this page's own when it listens everywhere. */
export function dicomHostFor(config: BootConfig, location: Location): string {
  return ['0.0.0.0', '::', ''].includes(config.dicomHost) ? location.hostname : config.dicomHost;
}

export type DicomJson = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

export function dicomString(ds: DicomJson | undefined, tag: string): string {
  const value = ds?.[tag]?.Value?.[0];
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return String((value as { Alphabetic?: string }).Alphabetic ?? '');
  return String(value);
}

export function dicomNumber(ds: DicomJson | undefined, tag: string): number | undefined {
  const value = ds?.[tag]?.Value?.[0];
  const n = typeof value === 'number' ? value : Number(value);
  return value === undefined || Number.isNaN(n) ? undefined : n;
}

export interface WorklistStudy {
  studyInstanceUid: string;
  patientName: string | null;
  patientId: string;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  studyDescription: string | null;
  modalities: string[];
  numberOfSeries: number;
  numberOfInstances: number;
  receivedAt: string;
}

export interface WorklistPage {
  total: number;
  offset: number;
  limit: number;
  studies: WorklistStudy[];
}

export interface WorklistFilters {
  patient: string;
  accessionNumber: string;
  studyDescription: string;
  modality: string;
  dateFrom: string;
  dateTo: string;
}

export type SortKey = 'studyDate' | 'patientName' | 'patientId' | 'accessionNumber' | 'modalities' | 'studyDescription' | 'numberOfSeries' | 'numberOfInstances' | 'receivedAt';

/** An HTTP error with the server's own reason (the problem document's detail). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function failure(response: Response, what: string): Promise<ApiError> {
  let detail = response.statusText;
  try {
    const body = (await response.json()) as { detail?: string; message?: string };
    detail = body.detail ?? body.message ?? detail;
  } catch {
    // Not a problem document: the status text is all there is.
  }
  return new ApiError(`Cannot ${what}: ${detail} (HTTP ${response.status})`, response.status);
}

export async function getJson<T>(url: string, what: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, { headers: { accept: 'application/json, application/dicom+json' }, signal });
  if (!response.ok) throw await failure(response, what);
  // QIDO-RS answers 204 with no body when nothing matches.
  if (response.status === 204) return [] as T;
  return (await response.json()) as T;
}

export function fetchWorklist(filters: WorklistFilters, sort: SortKey, order: 'asc' | 'desc', offset: number, limit: number, signal?: AbortSignal): Promise<WorklistPage> {
  const params = new URLSearchParams({ sort, order, offset: String(offset), limit: String(limit) });
  for (const [key, value] of Object.entries(filters)) if (value.trim()) params.set(key, value.trim());
  return getJson<WorklistPage>(`/api/worklist?${params}`, 'load the worklist', signal);
}

const DICOMWEB = '/dicom-web';

export async function fetchStudy(studyInstanceUid: string, signal?: AbortSignal): Promise<DicomJson | undefined> {
  const studies = await getJson<DicomJson[]>(`${DICOMWEB}/studies?StudyInstanceUID=${encodeURIComponent(studyInstanceUid)}&includefield=all`, 'load the study', signal);
  return studies[0];
}

export async function fetchSeries(studyInstanceUid: string, signal?: AbortSignal): Promise<DicomJson[]> {
  const series = await getJson<DicomJson[]>(`${DICOMWEB}/studies/${studyInstanceUid}/series?includefield=all`, 'load the series', signal);
  return series.sort((a, b) => (dicomNumber(a, '00200011') ?? 0) - (dicomNumber(b, '00200011') ?? 0));
}

export function fetchSeriesMetadata(studyInstanceUid: string, seriesInstanceUid: string, signal?: AbortSignal): Promise<DicomJson[]> {
  return getJson<DicomJson[]>(`${DICOMWEB}/studies/${studyInstanceUid}/series/${seriesInstanceUid}/metadata`, 'load the series metadata', signal);
}

export function thumbnailUrl(studyInstanceUid: string, seriesInstanceUid?: string): string {
  const series = seriesInstanceUid ? `/series/${seriesInstanceUid}` : '';
  return `${DICOMWEB}/studies/${studyInstanceUid}${series}/thumbnail?viewport=128,128`;
}

export function wadoRsRoot(origin: string): string {
  return `${origin}${DICOMWEB}`;
}

export interface RemoteAe {
  aeTitle: string;
  host: string;
  port: number;
  description?: string;
}

export function fetchRemoteAes(signal?: AbortSignal): Promise<RemoteAe[]> {
  return getJson<RemoteAe[]>('/api/remote-aes', 'list the DICOM nodes', signal);
}

export interface SendResult {
  aeTitle: string;
  completed: number;
  warning: number;
  failed: number;
  failures: { sopInstanceUid: string; reason: string }[];
}

export async function sendStudy(studyInstanceUid: string, aeTitle: string): Promise<SendResult> {
  const response = await fetch(`/api/studies/${studyInstanceUid}/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ aeTitle }),
  });
  if (!response.ok) throw await failure(response, `send the study to ${aeTitle}`);
  return (await response.json()) as SendResult;
}

export function studyZipUrl(studyInstanceUid: string): string {
  return `/api/studies/${studyInstanceUid}/zip`;
}

export function ohifStudyUrl(ohifPath: string, studyInstanceUid: string): string {
  return `${ohifPath}viewer?StudyInstanceUIDs=${encodeURIComponent(studyInstanceUid)}`;
}
