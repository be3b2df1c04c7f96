import type { DicomJson } from '../api.js';

/** What became of one file sent with STOW-RS. */
export interface StowOutcome {
  status: 'stored' | 'warning' | 'rejected';
  /** The server's reason for a rejection or warning (its Warning header text, or the problem detail). */
  reason?: string;
  studyInstanceUid?: string;
}

/** PS3.4 Annex B / PS3.18 Table 10.5.3-2 failure reasons, for when the server gives no text. */
const FAILURE_REASONS: Record<number, string> = {
  0xa700: 'Refused: out of resources',
  0xa900: 'Data set does not match SOP class',
  0xc000: 'Cannot understand',
  0x0110: 'Processing failure',
  0x0122: 'SOP class not supported',
};

function warningTexts(header: string | null): string[] {
  if (!header) return [];
  return [...header.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/^Cannot store part \d+: /, ''));
}

/**
 * Sends one file as a STOW-RS request (PS3.18 §10.5: `multipart/related; type="application/dicom"`), reporting
 * upload progress, and reads the store response: ReferencedSOPSequence (0008,1199) for what was stored,
 * FailedSOPSequence (0008,1198) with FailureReason (0008,1197) for what was not.
 */
export function stowFile(file: File, onProgress: (sentBytes: number) => void, signal?: AbortSignal): Promise<StowOutcome> {
  const boundary = `atrium-${crypto.randomUUID()}`;
  const body = new Blob([`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, file, `\r\n--${boundary}--\r\n`]);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/dicom-web/studies');
    xhr.setRequestHeader('Content-Type', `multipart/related; type="application/dicom"; boundary=${boundary}`);
    xhr.setRequestHeader('Accept', 'application/dicom+json');
    xhr.upload.onprogress = (event) => onProgress(Math.min(event.loaded, file.size));
    xhr.onerror = () => reject(new Error(`Cannot send '${file.name}': the connection to Atrium failed`));
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.onload = () => {
      onProgress(file.size);
      const warnings = warningTexts(xhr.getResponseHeader('Warning'));
      let response: DicomJson | { detail?: string } | undefined;
      try {
        response = xhr.responseText ? (JSON.parse(xhr.responseText) as DicomJson) : undefined;
      } catch {
        response = undefined;
      }
      if (xhr.status >= 400 && xhr.status !== 409) {
        const detail = (response as { detail?: string } | undefined)?.detail;
        resolve({ status: 'rejected', reason: detail ?? (warnings[0] || `HTTP ${xhr.status} ${xhr.statusText}`) });
        return;
      }
      const dataset = response as DicomJson | undefined;
      const failed = (dataset?.['00081198']?.Value ?? []) as DicomJson[];
      const stored = (dataset?.['00081199']?.Value ?? []) as DicomJson[];
      const retrieveUrl = String(dataset?.['00081190']?.Value?.[0] ?? '');
      const studyInstanceUid = /\/studies\/([^/]+)/.exec(retrieveUrl)?.[1];
      if (stored.length === 0 || failed.length > 0) {
        const code = Number(failed[0]?.['00081197']?.Value?.[0]);
        resolve({ status: 'rejected', reason: warnings[0] ?? FAILURE_REASONS[code] ?? `Failure ${code.toString(16).toUpperCase()}` });
        return;
      }
      const warned = stored.some((item) => item['00081196'] !== undefined) || warnings.length > 0;
      resolve({ status: warned ? 'warning' : 'stored', ...(warned ? { reason: warnings.join('; ') } : {}), ...(studyInstanceUid ? { studyInstanceUid } : {}) });
    };
    xhr.send(body);
  });
}

/** Every file of a drop: files as they are, folders walked recursively (File and Directory Entries API). */
export async function filesOfDrop(dataTransfer: DataTransfer): Promise<File[]> {
  const entries = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return [...dataTransfer.files];
  const files: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      files.push(await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries answers in batches (about 100 in Chromium) until it answers an empty one.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const entry of entries) await walk(entry);
  return files;
}
