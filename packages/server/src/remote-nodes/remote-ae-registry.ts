import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
// Type-only: the schema of migration 0003 merged into the database's Kysely type; no runtime dependency on Kysely.
import type { Kysely, Selectable } from 'kysely';
import type { DimseSchema, RemoteAeTable } from '@atrium/db';
import type { Archive } from '../main.js';
import {
  DIMSE_SERVICE_NAMES,
  validateRemoteAe,
  type DicomConfig,
  type DimseServiceName,
  type RemoteAeConfig,
} from '../config/config.js';
import { RemoteAeError } from './errors.js';

/** A remote AE with where its definition comes from: the configuration (read-only) or the admin API. */
export interface RemoteAe extends RemoteAeConfig {
  source: 'config' | 'database';
}

/**
 * The DICOM nodes Atrium knows (PS3.8 §7.1): calling AEs it accepts, C-MOVE destinations, peers for `atrium
 * send/query/retrieve`. Entries from the configuration file and ATRIUM_REMOTE_AES come first and cannot be changed
 * at run time; the admin API adds, changes and removes the others in the index database, so every listener of a
 * deployment sees the same list. Nothing is cached: an AE added through the API is known to the next association.
 */
export class RemoteAeRegistry {
  private readonly db: Kysely<DimseSchema>;
  private readonly dicom: DicomConfig;
  private readonly now: () => Date;

  constructor(archive: Pick<Archive, 'config' | 'database'>, now: () => Date = () => new Date()) {
    this.db = archive.database.kysely as unknown as Kysely<DimseSchema>;
    this.dicom = archive.config.dicom;
    this.now = now;
  }

  /** Every known AE, configuration entries first, then by title. */
  async list(): Promise<RemoteAe[]> {
    const fromConfig = this.dicom.remoteAes.map((ae) => ({ ...ae, source: 'config' as const }));
    const titles = new Set(fromConfig.map((ae) => ae.aeTitle));
    const rows = await this.db.selectFrom('remote_ae').selectAll().orderBy('ae_title').execute();
    return [...fromConfig, ...rows.filter((r) => !titles.has(r.ae_title)).map(fromRow)];
  }

  /** The AE with this title (AE titles compare without surrounding spaces, case-sensitively: PS3.5 §6.2). */
  async get(aeTitle: string): Promise<RemoteAe | undefined> {
    const title = aeTitle.trim();
    const configured = this.dicom.remoteAes.find((ae) => ae.aeTitle === title);
    if (configured) return { ...configured, source: 'config' };
    const row = await this.db.selectFrom('remote_ae').selectAll().where('ae_title', '=', title).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  /**
   * Whether a calling AE may use a service: a known AE whose services include it, or anyone when
   * `dicom.acceptAnyAe` is set (then an unknown AE may use every service).
   */
  async allows(callingAeTitle: string, service: DimseServiceName | 'association'): Promise<boolean> {
    const ae = await this.get(callingAeTitle);
    if (!ae) return this.dicom.acceptAnyAe;
    return service === 'association' || ae.services.includes(service);
  }

  /**
   * With `checkCallingHost`, whether a configured AE's association comes from an address its host names (an IP,
   * or a name resolved now). Unknown AEs are not judged here: `allows` decides on them.
   */
  async comesFrom(callingAeTitle: string, address: string): Promise<boolean> {
    if (!this.dicom.checkCallingHost) return true;
    const ae = await this.get(callingAeTitle);
    if (!ae) return true;
    const peer = plainAddress(address);
    if (isIP(ae.host)) return plainAddress(ae.host) === peer;
    try {
      return (await lookup(ae.host, { all: true })).some((a) => plainAddress(a.address) === peer);
    } catch {
      return false;
    }
  }

  /** Adds or replaces an AE defined through the admin API; configuration entries are refused (409). */
  async put(input: unknown): Promise<{ ae: RemoteAe; created: boolean }> {
    let ae: RemoteAeConfig;
    try {
      ae = validateRemoteAe('remote AE', input);
    } catch (error) {
      throw new RemoteAeError((error as Error).message, 'ATRIUM_ERR_REMOTE_AE_INVALID', 400);
    }
    if (this.dicom.remoteAes.some((c) => c.aeTitle === ae.aeTitle)) {
      throw new RemoteAeError(
        `Cannot change remote AE '${ae.aeTitle}': it is defined in the configuration file or ATRIUM_REMOTE_AES`,
        'ATRIUM_ERR_REMOTE_AE_READ_ONLY',
        409,
      );
    }
    const now = this.now().toISOString();
    const values = {
      host: ae.host,
      port: ae.port,
      services: ae.services.join(','),
      tls: ae.tls ? 1 : 0,
      description: ae.description ?? null,
      updated_at: now,
    };
    const existing = await this.db.selectFrom('remote_ae').select('ae_title').where('ae_title', '=', ae.aeTitle).executeTakeFirst();
    if (existing) {
      await this.db.updateTable('remote_ae').set(values).where('ae_title', '=', ae.aeTitle).execute();
    } else {
      await this.db.insertInto('remote_ae').values({ ae_title: ae.aeTitle, created_at: now, ...values }).execute();
    }
    return { ae: { ...ae, source: 'database' }, created: !existing };
  }

  /** Removes an AE defined through the admin API; true when there was one. */
  async delete(aeTitle: string): Promise<boolean> {
    const title = aeTitle.trim();
    if (this.dicom.remoteAes.some((c) => c.aeTitle === title)) {
      throw new RemoteAeError(
        `Cannot delete remote AE '${title}': it is defined in the configuration file or ATRIUM_REMOTE_AES`,
        'ATRIUM_ERR_REMOTE_AE_READ_ONLY',
        409,
      );
    }
    const result = await this.db.deleteFrom('remote_ae').where('ae_title', '=', title).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** The AE, or a coded error saying it is unknown (A801 for a C-MOVE destination, 404 for the API). */
  async require(aeTitle: string): Promise<RemoteAe> {
    const ae = await this.get(aeTitle);
    if (!ae) {
      throw new RemoteAeError(
        `Cannot use remote AE '${aeTitle}': it is not configured (add it to dicom.remoteAes, ATRIUM_REMOTE_AES or PUT /api/remote-aes/${aeTitle})`,
        'ATRIUM_ERR_REMOTE_AE_UNKNOWN',
        404,
        0xa801,
      );
    }
    return ae;
  }
}

function fromRow(row: Selectable<RemoteAeTable>): RemoteAe {
  const services = row.services.split(',').filter((s): s is DimseServiceName => (DIMSE_SERVICE_NAMES as readonly string[]).includes(s));
  return {
    aeTitle: row.ae_title,
    host: row.host,
    port: Number(row.port),
    services,
    tls: Number(row.tls) === 1,
    description: row.description ?? undefined,
    source: 'database',
  };
}

/** An IPv4 peer on a dual-stack socket reads `::ffff:10.0.0.21`; the configuration says `10.0.0.21`. */
function plainAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}
