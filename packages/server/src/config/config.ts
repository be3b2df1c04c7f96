import { readFileSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { ConfigError } from '../errors.js';

/** What Atrium does when an instance arrives whose SOP Instance UID is already stored with other bytes. */
export type DuplicatePolicy = 'keep' | 'replace' | 'reject';

export interface AtriumConfig {
  /** Root of everything Atrium writes in the embedded set-up: the SQLite index and the blob files. */
  dataDir: string;
  http: { host: string; port: number };
  dicom: { host: string; port: number; aeTitle: string };
  database: { kind: 'sqlite'; path: string; synchronous: 'FULL' | 'NORMAL' };
  store: { kind: 'filesystem'; root: string };
  ingest: {
    duplicatePolicy: DuplicatePolicy;
    /** Largest object accepted, in bytes (default 8 GiB): larger streams are refused before they fill the disk. */
    maxObjectBytes: number;
    /** Binary values longer than this are kept out of the index's DICOM JSON (BulkDataURI). */
    bulkDataThreshold: number;
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}

/** Partial configuration as read from a file: every field optional. */
export type AtriumConfigInput = {
  [K in keyof AtriumConfig]?: AtriumConfig[K] extends object ? Partial<AtriumConfig[K]> : AtriumConfig[K];
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function port(name: string, value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`Cannot use ${name} '${String(value)}': a port is an integer from 0 to 65535`);
  }
  return n;
}

function positiveInt(name: string, value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigError(`Cannot use ${name} '${String(value)}': expected a positive integer`);
  }
  return n;
}

/** AE titles are 1-16 characters of the default repertoire without backslash or control characters (PS3.5 §6.2). */
export function validateAeTitle(name: string, value: string): string {
  if (!/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(value) || value.trim() === '') {
    throw new ConfigError(`Cannot use ${name} '${value}': an AE title is 1 to 16 printable characters, no backslash`);
  }
  return value.trim();
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`Cannot use ${name} '${String(value)}': expected one of ${allowed.join(', ')}`);
}

/**
 * Builds the configuration: defaults, then the JSON file (`ATRIUM_CONFIG`, or `atrium.config.json` in the
 * working directory when present), then `ATRIUM_*` environment variables. Every value is validated here, so a bad
 * setting stops start-up with its name instead of failing later.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): AtriumConfig {
  const filePath = env.ATRIUM_CONFIG ? resolve(cwd, env.ATRIUM_CONFIG) : join(cwd, 'atrium.config.json');
  let file: AtriumConfigInput = {};
  if (env.ATRIUM_CONFIG && !existsSync(filePath)) {
    throw new ConfigError(`Cannot read configuration file '${filePath}': it does not exist`);
  }
  if (existsSync(filePath)) {
    try {
      file = JSON.parse(readFileSync(filePath, 'utf8')) as AtriumConfigInput;
    } catch (error) {
      throw new ConfigError(`Cannot read configuration file '${filePath}': ${(error as Error).message}`);
    }
  }

  const dataDir = resolve(cwd, env.ATRIUM_DATA_DIR ?? file.dataDir ?? './data');
  const config: AtriumConfig = {
    dataDir,
    http: {
      host: env.ATRIUM_HTTP_HOST ?? file.http?.host ?? '127.0.0.1',
      port: port('ATRIUM_HTTP_PORT', env.ATRIUM_HTTP_PORT ?? file.http?.port ?? 8080),
    },
    dicom: {
      host: env.ATRIUM_DICOM_HOST ?? file.dicom?.host ?? '0.0.0.0',
      port: port('ATRIUM_DICOM_PORT', env.ATRIUM_DICOM_PORT ?? file.dicom?.port ?? 11112),
      aeTitle: validateAeTitle('ATRIUM_AE_TITLE', env.ATRIUM_AE_TITLE ?? file.dicom?.aeTitle ?? 'ATRIUM'),
    },
    database: {
      kind: 'sqlite',
      path: resolve(dataDir, env.ATRIUM_DB_PATH ?? file.database?.path ?? 'atrium.sqlite'),
      synchronous: oneOf('ATRIUM_DB_SYNCHRONOUS', env.ATRIUM_DB_SYNCHRONOUS ?? file.database?.synchronous ?? 'FULL', [
        'FULL',
        'NORMAL',
      ] as const),
    },
    store: {
      kind: 'filesystem',
      root: resolve(dataDir, env.ATRIUM_STORE_ROOT ?? file.store?.root ?? 'blobs'),
    },
    ingest: {
      duplicatePolicy: oneOf(
        'ATRIUM_DUPLICATE_POLICY',
        env.ATRIUM_DUPLICATE_POLICY ?? file.ingest?.duplicatePolicy ?? 'keep',
        ['keep', 'replace', 'reject'] as const,
      ),
      maxObjectBytes: positiveInt(
        'ATRIUM_MAX_OBJECT_BYTES',
        env.ATRIUM_MAX_OBJECT_BYTES ?? file.ingest?.maxObjectBytes ?? 8 * 1024 ** 3,
      ),
      bulkDataThreshold: positiveInt(
        'ATRIUM_BULK_DATA_THRESHOLD',
        env.ATRIUM_BULK_DATA_THRESHOLD ?? file.ingest?.bulkDataThreshold ?? 1024,
      ),
    },
    log: { level: oneOf('ATRIUM_LOG_LEVEL', env.ATRIUM_LOG_LEVEL ?? file.log?.level ?? 'info', LOG_LEVELS) },
  };
  return config;
}
