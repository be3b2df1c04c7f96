import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type AtriumConfig } from './config/config.js';
import { createLogger } from './logger.js';
import { openArchive, type Archive } from './main.js';

/** A configuration on a fresh temporary data directory, quiet logs, free ports. For tests only. */
export function testConfig(env: Record<string, string> = {}): AtriumConfig {
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-test-'));
  return loadConfig(
    {
      ATRIUM_DATA_DIR: dataDir,
      ATRIUM_LOG_LEVEL: 'silent',
      ATRIUM_HTTP_HOST: '127.0.0.1',
      ATRIUM_HTTP_PORT: '0',
      ATRIUM_DICOM_HOST: '127.0.0.1',
      ATRIUM_DICOM_PORT: '0',
      ...env,
    },
    dataDir,
  );
}

export async function openTestArchive(env: Record<string, string> = {}): Promise<Archive & { cleanup(): Promise<void> }> {
  const config = testConfig(env);
  const archive = await openArchive(config, createLogger(config));
  return Object.assign(archive, {
    async cleanup() {
      await archive.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  });
}
