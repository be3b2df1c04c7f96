import { pino, type Logger, type DestinationStream } from 'pino';
import type { AtriumConfig } from './config/config.js';

export type { Logger };

/**
 * Structured JSON logs (pino): one object per line, on stderr so that CLI commands keep stdout for their output.
 */
export function createLogger(config: Pick<AtriumConfig, 'log'>, destination?: DestinationStream): Logger {
  return pino(
    { level: config.log.level, base: { service: 'atrium' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
