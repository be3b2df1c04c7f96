import { readFileSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { ConfigError } from '../errors.js';

/** The DIMSE services a remote AE may ask of Atrium (PS3.4 Annexes A, B, C, J). */
export type DimseServiceName = 'echo' | 'store' | 'find' | 'move' | 'get' | 'commitment';
export const DIMSE_SERVICE_NAMES: readonly DimseServiceName[] = ['echo', 'store', 'find', 'move', 'get', 'commitment'];

/** A DICOM node Atrium knows: where to reach it (C-MOVE destination, send, query) and what it may ask of Atrium. */
export interface RemoteAeConfig {
  aeTitle: string;
  host: string;
  port: number;
  /** Services this AE may use when it calls Atrium; all of them unless listed. */
  services: readonly DimseServiceName[];
  /** Reach it over TLS (PS3.15 Annex B.1) with the `dicom.tls` certificates. */
  tls: boolean;
  description?: string | undefined;
}

/** DIMSE listener and SCU settings (docs/dicom-networking.md). */
export interface DicomConfig {
  /** Whether `atrium serve` listens for DIMSE at all (ATRIUM_DICOM_ENABLED). */
  enabled: boolean;
  host: string;
  port: number;
  aeTitle: string;
  /** Accept any calling AE title, not only the remote AEs Atrium knows (ATRIUM_ACCEPT_ANY_AE). */
  acceptAnyAe: boolean;
  /**
   * A configured calling AE is accepted only from an address its host resolves to. Off by default: modalities
   * behind NAT or with DHCP addresses would be locked out.
   */
  checkCallingHost: boolean;
  /** Accept C-STORE of SOP classes that are not in the PS3.6 registry (ATRIUM_ACCEPT_UNKNOWN_SOP_CLASSES). */
  acceptUnknownSopClasses: boolean;
  /** Remote AEs from the file's `dicom.remoteAes` and ATRIUM_REMOTE_AES (`AE@host:port,...`). */
  remoteAes: RemoteAeConfig[];
  /** Concurrent associations accepted; more are rejected transiently. */
  maxAssociations: number;
  /** Largest P-DATA-TF PDU Atrium receives (advertised) and sends. */
  maxPduLength: number;
  timeouts: {
    /** ARTIM (PS3.8 §9.1.5): association set-up and release. */
    artimMs: number;
    /** Silence from a peer before the association is aborted. */
    idleMs: number;
    /** Waiting for the answer to a request Atrium sent (SCU, C-MOVE sub-operations); 0 waits forever. */
    dimseMs: number;
  };
  /** TLS for the listener and for remote AEs marked `tls`; undefined: plain TCP. */
  tls:
    | { keyPath: string; certPath: string; caPath?: string | undefined; requireClientCert: boolean }
    | undefined;
}

/** What Atrium does when an instance arrives whose SOP Instance UID is already stored with other bytes. */
export type DuplicatePolicy = 'keep' | 'replace' | 'reject';

export interface AtriumConfig {
  /** Root of everything Atrium writes in the embedded set-up: the SQLite index and the blob files. */
  dataDir: string;
  http: { host: string; port: number };
  dicom: DicomConfig;
  /**
   * What an acknowledged write survives. `power-loss` (default): every object, index commit and directory entry is
   * flushed to disk before success is answered. `process-crash`: writes stay atomic and ordered, so a crash of
   * Atrium loses nothing acknowledged, but a power cut may lose the last seconds (what Orthanc's defaults give).
   */
  durability: 'power-loss' | 'process-crash';
  /** `cacheMib`: SQLite's page cache; larger archives query faster with more, small machines keep memory low with less. */
  database: { kind: 'sqlite'; path: string; synchronous: 'FULL' | 'NORMAL'; cacheMib: number; commitThread: boolean };
  store: { kind: 'filesystem'; root: string; fsync: boolean };
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

/** PS3.8 §9.3.1: a maximum length from 4 KiB (a useful floor) up to what the 32-bit field holds. */
function pduLength(value: unknown): number {
  const n = positiveInt('ATRIUM_DICOM_MAX_PDU_LENGTH', value);
  if (n < 4096 || n > 0xffffffff) {
    throw new ConfigError(`Cannot use ATRIUM_DICOM_MAX_PDU_LENGTH '${String(value)}': expected 4096 to 4294967295 bytes`);
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

function bool(name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`Cannot use ${name} '${String(value)}': expected true or false`);
}

function nonNegativeInt(name: string, value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new ConfigError(`Cannot use ${name} '${String(value)}': expected an integer of 0 or more`);
  }
  return n;
}

/**
 * One remote AE from `AE@host:port` (ATRIUM_REMOTE_AES; IPv6 hosts in brackets: `WS1@[::1]:104`). Services
 * default to all; the admin API and the file can narrow them.
 */
export function parseRemoteAe(name: string, text: string): RemoteAeConfig {
  const match = /^([^@]+)@(\[[^\]]+\]|[^:@]+):(\d+)$/.exec(text.trim());
  if (!match) throw new ConfigError(`Cannot use ${name} '${text}': expected AE@host:port, e.g. PACS2@127.0.0.1:11113`);
  const host = match[2]!.replace(/^\[|\]$/g, '');
  return {
    aeTitle: validateAeTitle(name, match[1]!),
    host,
    port: port(name, match[3]!),
    services: DIMSE_SERVICE_NAMES,
    tls: false,
  };
}

/** Validates one remote AE given as an object (config file, admin API). */
export function validateRemoteAe(name: string, value: unknown): RemoteAeConfig {
  if (typeof value !== 'object' || value === null) throw new ConfigError(`Cannot use ${name}: expected an object with aeTitle, host and port`);
  const v = value as Record<string, unknown>;
  if (typeof v.aeTitle !== 'string') throw new ConfigError(`Cannot use ${name}: aeTitle is missing`);
  const aeTitle = validateAeTitle(`${name}.aeTitle`, v.aeTitle);
  if (typeof v.host !== 'string' || v.host.trim() === '' || /\s/.test(v.host.trim())) {
    throw new ConfigError(`Cannot use ${name}.host '${String(v.host)}': expected a host name or address`);
  }
  const services = v.services === undefined ? DIMSE_SERVICE_NAMES : v.services;
  if (!Array.isArray(services)) throw new ConfigError(`Cannot use ${name}.services: expected a list of ${DIMSE_SERVICE_NAMES.join(', ')}`);
  return {
    aeTitle,
    host: v.host.trim(),
    port: port(`${name}.port`, v.port),
    services: [...new Set(services.map((s) => oneOf(`${name}.services`, s, DIMSE_SERVICE_NAMES)))],
    tls: v.tls === undefined ? false : bool(`${name}.tls`, v.tls),
    description: typeof v.description === 'string' ? v.description : undefined,
  };
}

function remoteAes(env: NodeJS.ProcessEnv, file: unknown): RemoteAeConfig[] {
  const byTitle = new Map<string, RemoteAeConfig>();
  if (file !== undefined) {
    if (!Array.isArray(file)) throw new ConfigError(`Cannot use dicom.remoteAes: expected a list`);
    file.forEach((entry, i) => {
      const ae = validateRemoteAe(`dicom.remoteAes[${i}]`, entry);
      byTitle.set(ae.aeTitle, ae);
    });
  }
  for (const text of (env.ATRIUM_REMOTE_AES ?? '').split(',').filter((t) => t.trim() !== '')) {
    const ae = parseRemoteAe('ATRIUM_REMOTE_AES', text);
    byTitle.set(ae.aeTitle, ae);
  }
  return [...byTitle.values()];
}

function dicomTls(env: NodeJS.ProcessEnv, file: Record<string, unknown> | undefined, cwd: string): DicomConfig['tls'] {
  const keyPath = env.ATRIUM_DICOM_TLS_KEY ?? file?.keyPath;
  const certPath = env.ATRIUM_DICOM_TLS_CERT ?? file?.certPath;
  const caPath = env.ATRIUM_DICOM_TLS_CA ?? file?.caPath;
  if (keyPath === undefined && certPath === undefined) return undefined;
  if (typeof keyPath !== 'string' || typeof certPath !== 'string') {
    throw new ConfigError(`Cannot use dicom.tls: both a key (ATRIUM_DICOM_TLS_KEY) and a certificate (ATRIUM_DICOM_TLS_CERT) are needed`);
  }
  for (const [name, path] of [['ATRIUM_DICOM_TLS_KEY', keyPath], ['ATRIUM_DICOM_TLS_CERT', certPath], ['ATRIUM_DICOM_TLS_CA', caPath]] as const) {
    if (typeof path === 'string' && !existsSync(resolve(cwd, path))) throw new ConfigError(`Cannot use ${name} '${path}': it does not exist`);
  }
  return {
    keyPath: resolve(cwd, keyPath),
    certPath: resolve(cwd, certPath),
    caPath: typeof caPath === 'string' ? resolve(cwd, caPath) : undefined,
    requireClientCert: bool(
      'ATRIUM_DICOM_TLS_REQUIRE_CLIENT_CERT',
      env.ATRIUM_DICOM_TLS_REQUIRE_CLIENT_CERT ?? file?.requireClientCert ?? caPath !== undefined,
    ),
  };
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
  const durability = oneOf('ATRIUM_DURABILITY', env.ATRIUM_DURABILITY ?? file.durability ?? 'power-loss', [
    'power-loss',
    'process-crash',
  ] as const);
  const config: AtriumConfig = {
    dataDir,
    http: {
      host: env.ATRIUM_HTTP_HOST ?? file.http?.host ?? '127.0.0.1',
      port: port('ATRIUM_HTTP_PORT', env.ATRIUM_HTTP_PORT ?? file.http?.port ?? 8080),
    },
    dicom: {
      enabled: bool('ATRIUM_DICOM_ENABLED', env.ATRIUM_DICOM_ENABLED ?? file.dicom?.enabled ?? true),
      // Loopback until an administrator opens it (architecture.md, identity): unknown callers are refused anyway, but
      // a fresh install should not be reachable from the network before anyone has looked at its settings.
      host: env.ATRIUM_DICOM_HOST ?? file.dicom?.host ?? '127.0.0.1',
      port: port('ATRIUM_DICOM_PORT', env.ATRIUM_DICOM_PORT ?? file.dicom?.port ?? 11112),
      aeTitle: validateAeTitle('ATRIUM_AE_TITLE', env.ATRIUM_AE_TITLE ?? file.dicom?.aeTitle ?? 'ATRIUM'),
      acceptAnyAe: bool('ATRIUM_ACCEPT_ANY_AE', env.ATRIUM_ACCEPT_ANY_AE ?? file.dicom?.acceptAnyAe ?? false),
      checkCallingHost: bool('ATRIUM_CHECK_CALLING_HOST', env.ATRIUM_CHECK_CALLING_HOST ?? file.dicom?.checkCallingHost ?? false),
      acceptUnknownSopClasses: bool(
        'ATRIUM_ACCEPT_UNKNOWN_SOP_CLASSES',
        env.ATRIUM_ACCEPT_UNKNOWN_SOP_CLASSES ?? file.dicom?.acceptUnknownSopClasses ?? false,
      ),
      remoteAes: remoteAes(env, file.dicom?.remoteAes),
      maxAssociations: positiveInt(
        'ATRIUM_DICOM_MAX_ASSOCIATIONS',
        env.ATRIUM_DICOM_MAX_ASSOCIATIONS ?? file.dicom?.maxAssociations ?? 64,
      ),
      maxPduLength: pduLength(env.ATRIUM_DICOM_MAX_PDU_LENGTH ?? file.dicom?.maxPduLength ?? 262144),
      timeouts: {
        artimMs: nonNegativeInt('ATRIUM_DICOM_ARTIM_TIMEOUT_MS', env.ATRIUM_DICOM_ARTIM_TIMEOUT_MS ?? file.dicom?.timeouts?.artimMs ?? 30_000),
        idleMs: nonNegativeInt('ATRIUM_DICOM_IDLE_TIMEOUT_MS', env.ATRIUM_DICOM_IDLE_TIMEOUT_MS ?? file.dicom?.timeouts?.idleMs ?? 300_000),
        dimseMs: nonNegativeInt('ATRIUM_DICOM_DIMSE_TIMEOUT_MS', env.ATRIUM_DICOM_DIMSE_TIMEOUT_MS ?? file.dicom?.timeouts?.dimseMs ?? 120_000),
      },
      tls: dicomTls(env, file.dicom?.tls as Record<string, unknown> | undefined, cwd),
    },
    durability,
    database: {
      kind: 'sqlite',
      path: resolve(dataDir, env.ATRIUM_DB_PATH ?? file.database?.path ?? 'atrium.sqlite'),
      synchronous: oneOf(
        'ATRIUM_DB_SYNCHRONOUS',
        env.ATRIUM_DB_SYNCHRONOUS ?? file.database?.synchronous ?? (durability === 'power-loss' ? 'FULL' : 'NORMAL'),
        ['FULL', 'NORMAL'] as const,
      ),
      cacheMib: positiveInt('ATRIUM_DB_CACHE_MB', env.ATRIUM_DB_CACHE_MB ?? file.database?.cacheMib ?? 64),
      commitThread: bool('ATRIUM_DB_COMMIT_THREAD', env.ATRIUM_DB_COMMIT_THREAD ?? file.database?.commitThread ?? false),
    },
    store: {
      kind: 'filesystem',
      root: resolve(dataDir, env.ATRIUM_STORE_ROOT ?? file.store?.root ?? 'blobs'),
      fsync: durability === 'power-loss',
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
