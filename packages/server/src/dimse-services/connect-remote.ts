import { connect, type Association, type ConnectOptions } from '@atrium/dimse';
import type { Archive } from '../main.js';
import type { RemoteAeConfig } from '../config/config.js';
import { clientTlsOptions } from './tls.js';

/** Opens an association from Atrium's AE to a remote AE with the configured limits, timeouts and TLS. */
export function connectToRemote(
  archive: Pick<Archive, 'config'>,
  ae: Pick<RemoteAeConfig, 'aeTitle' | 'host' | 'port' | 'tls'>,
  options: Pick<ConnectOptions, 'presentationContexts'> & Partial<Pick<ConnectOptions, 'roleSelections' | 'handlers' | 'extendedNegotiations' | 'onError'>>,
): Promise<Association> {
  const dicom = archive.config.dicom;
  return connect({
    host: ae.host,
    port: ae.port,
    callingAeTitle: dicom.aeTitle,
    calledAeTitle: ae.aeTitle,
    limits: { maxPduLength: dicom.maxPduLength, maxSendPduLength: dicom.maxPduLength },
    timeouts: { artimMs: dicom.timeouts.artimMs, idleMs: dicom.timeouts.idleMs, dimseMs: dicom.timeouts.dimseMs },
    ...(ae.tls ? { tls: clientTlsOptions(dicom) } : {}),
    ...options,
  });
}
