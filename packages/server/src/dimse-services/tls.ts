import { readFileSync } from 'node:fs';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import type { DicomConfig } from '../config/config.js';

/** Listener options for the DICOM TLS profile (PS3.15 Annex B.1); undefined when TLS is not configured. */
export function serverTlsOptions(dicom: DicomConfig): TlsOptions | undefined {
  if (!dicom.tls) return undefined;
  const { keyPath, certPath, caPath, requireClientCert } = dicom.tls;
  return {
    key: readFileSync(keyPath),
    cert: readFileSync(certPath),
    ...(caPath ? { ca: readFileSync(caPath) } : {}),
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert,
    minVersion: 'TLSv1.2',
  };
}

/** Requestor options for a remote AE marked `tls`: Atrium's certificate as client certificate, the CA to trust. */
export function clientTlsOptions(dicom: DicomConfig): ConnectionOptions {
  const tls = dicom.tls;
  if (!tls) return { minVersion: 'TLSv1.2' };
  return {
    key: readFileSync(tls.keyPath),
    cert: readFileSync(tls.certPath),
    ...(tls.caPath ? { ca: readFileSync(tls.caPath) } : {}),
    minVersion: 'TLSv1.2',
  };
}
