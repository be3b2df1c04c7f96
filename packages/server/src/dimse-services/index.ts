import type { Archive } from '../main.js';

export interface DimseListener {
  /** The port the DIMSE server listens on (useful when configured as 0). */
  port: number;
  close(): Promise<void>;
}

/** Starts Atrium's DIMSE services (PS3.4, PS3.7) on the configured port; undefined when disabled. */
export async function startDimse(_archive: Archive): Promise<DimseListener | undefined> {
  return undefined;
}
