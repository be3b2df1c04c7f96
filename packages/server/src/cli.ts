import { parseArgs } from 'node:util';
import { loadConfig, type AtriumConfig } from './config/config.js';
import { createLogger } from './logger.js';
import { openArchive, startServer, type Archive } from './main.js';
import { importFiles, walkFiles, type ImportFileResult } from './import/import-files.js';
import { fsck } from './fsck/fsck.js';
import { loadDemo } from './demo/demo.js';
import { ProgressLine, bar, formatMegabytes } from './cli/progress.js';
import { reasonOf } from './errors.js';
import { echoRemote, queryKeys, queryRemote, retrieveRemote, sendToRemote } from './dimse-services/scu.js';

const USAGE = `Usage: atrium <command> [options]

Commands:
  serve                      run Atrium (HTTP on ATRIUM_HTTP_PORT, default 8080; data in ATRIUM_DATA_DIR, default ./data)
  import <file|folder>...    store DICOM files (folders are searched recursively); exit code 1 if any was rejected
      --json                 one JSON line per file on stdout instead of the progress bar
      --concurrency N        files in flight (default 4)
  stats [--json]             counts of patients, studies, series, instances and bytes
  fsck [--repair] [--verify-digests] [--json]
                             prove that the index and the stored files agree; --repair fixes what it safely can
  demo                       load synthetic studies (CT, echo clips, stress echo, XA run with hemodynamics, ECGs)
                             so every viewer has something to show
  echo <AE>                  C-ECHO a remote AE (a configured title, or AE@host:port)
  send <AE> --study UID | --series UID | --instance UID...
                             send stored instances to a remote AE (C-STORE, the stored transfer syntax)
  query <AE> [--level STUDY] [--patient-root] [-k Key=Value]... [--json]
                             C-FIND on a remote AE; -k PatientName=DOE* matches, -k StudyDate returns a key
                             besides the level's usual ones (UIDs, patient, date, description, counts)
  retrieve <AE> --study UID | --series UID | --instance UID... | -k Key=Value... [--level L] [--move [--dest AE]]
                             C-GET from a remote AE into this archive (default), or C-MOVE to --dest (default:
                             this AE, which must then be running)
  help                       this text

Configuration: atrium.config.json in the working directory (or ATRIUM_CONFIG) and ATRIUM_* environment variables;
see docs/configuration.md.`;

async function withArchive<T>(config: AtriumConfig, fn: (archive: Archive) => Promise<T>): Promise<T> {
  const archive = await openArchive(config, createLogger({ log: { level: config.log.level === 'info' ? 'warn' : config.log.level } }));
  try {
    return await fn(archive);
  } finally {
    await archive.close();
  }
}

async function serve(config: AtriumConfig): Promise<void> {
  const logger = createLogger(config);
  const server = await startServer(config, logger).catch((error: unknown) => {
    const { code, address, port } = error as { code?: string; address?: string; port?: number };
    if (code !== 'EADDRINUSE') throw error;
    const variable = port === config.dicom.port ? 'ATRIUM_DICOM_PORT' : 'ATRIUM_HTTP_PORT';
    throw new Error(`Cannot listen on ${address}:${port}: another program uses that port (choose another with ${variable})`, { cause: error });
  });
  const stats = await server.archive.archive.stats();
  process.stdout.write(
    `Atrium is running.\n` +
      `  Web and API:  ${server.httpUrl}/\n` +
      (server.dimse
        ? `  DICOM:        AE ${config.dicom.aeTitle} on ${config.dicom.host}:${server.dimse.port}` +
          `${config.dicom.acceptAnyAe ? ' (any calling AE accepted)' : ' (known calling AEs only: ATRIUM_REMOTE_AES)'}\n`
        : '') +
      `  Data:         ${config.dataDir} (${stats.studies} studies, ${stats.instances} instances)\n` +
      `Stop with Ctrl+C.\n`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Stopping');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'Error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function importCommand(config: AtriumConfig, paths: string[], json: boolean, concurrency: number): Promise<number> {
  if (paths.length === 0) throw new TypeError('Cannot import: name at least one file or folder');
  let totalFiles = 0;
  let totalBytes = 0;
  for await (const f of walkFiles(paths)) {
    totalFiles++;
    totalBytes += f.size;
  }
  return withArchive(config, async (archive) => {
    const progress = new ProgressLine();
    let done = 0;
    let bytes = 0;
    let rejected = 0;
    const onFile = (r: ImportFileResult) => {
      done++;
      bytes += r.bytes;
      if (r.outcome === 'rejected') rejected++;
      if (json) {
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      progress.update(
        (s) =>
          `${bar(totalBytes ? bytes / totalBytes : done / Math.max(1, totalFiles))} ${done}/${totalFiles} files  ` +
          `${formatMegabytes(bytes)}  ${(bytes / 1e6 / Math.max(s, 0.001)).toFixed(1)} MB/s  rejected ${rejected}`,
        done === totalFiles,
      );
    };
    const summary = await importFiles(archive.ingest, paths, { concurrency, onFile });
    if (json) return summary.rejected.length ? 1 : 0;
    progress.done();
    const out = process.stdout;
    out.write(
      `\nImported ${summary.files} files (${formatMegabytes(summary.bytes)}) in ${summary.seconds.toFixed(1)} s ` +
        `(${(summary.files / Math.max(summary.seconds, 0.001)).toFixed(0)} files/s, ` +
        `${(summary.bytes / 1e6 / Math.max(summary.seconds, 0.001)).toFixed(1)} MB/s)\n` +
        `  stored:     ${summary.stored}\n` +
        (summary.replaced ? `  replaced:   ${summary.replaced}\n` : '') +
        `  duplicate:  ${summary.duplicates}\n` +
        `  rejected:   ${summary.rejected.length}\n`,
    );
    for (const r of summary.rejected) out.write(`    ${r.path}: ${r.reason}\n`);
    return summary.rejected.length ? 1 : 0;
  });
}

async function statsCommand(config: AtriumConfig, json: boolean): Promise<number> {
  return withArchive(config, async (archive) => {
    const stats = await archive.archive.stats();
    if (json) {
      process.stdout.write(JSON.stringify(stats, null, 2) + '\n');
      return 0;
    }
    const modalities = Object.entries(stats.byModality ?? {});
    const lines = [
      `Patients:   ${stats.patients}`,
      `Studies:    ${stats.studies}`,
      `Series:     ${stats.series}`,
      `Instances:  ${stats.instances}`,
      `Size:       ${formatMegabytes(stats.bytes)}`,
      ...(modalities.length ? ['By modality:'] : []),
    ];
    for (const [modality, m] of modalities) {
      lines.push(`  ${modality.padEnd(8)} ${String(m.series).padStart(6)} series ${String(m.instances).padStart(8)} instances ${formatMegabytes(m.bytes).padStart(10)}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  });
}

async function fsckCommand(config: AtriumConfig, repair: boolean, verifyDigests: boolean, json: boolean): Promise<number> {
  return withArchive(config, async (archive) => {
    const progress = new ProgressLine();
    const report = await fsck(archive, {
      repair,
      verifyDigests,
      onProgress: json ? undefined : (n) => progress.update(() => `checked ${n} instances`),
    });
    if (json) {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    } else {
      progress.done();
      const out = process.stdout;
      out.write(`Checked ${report.instancesChecked} indexed instances and ${report.blobsChecked} stored blobs.\n`);
      for (const p of report.problems) out.write(`  ${p.kind}: ${p.key}${p.sopInstanceUid ? ` (${p.sopInstanceUid})` : ''}: ${p.detail}\n`);
      for (const r of report.repairs) out.write(`  repaired: ${r}\n`);
      out.write(report.clean ? 'The archive is clean.\n' : `${report.problems.length} problem(s) found.\n`);
    }
    return report.clean || (repair && report.problems.every((p) => p.kind === 'orphan-blob' || p.kind === 'missing-blob')) ? 0 : 1;
  });
}

async function demoCommand(config: AtriumConfig): Promise<number> {
  return withArchive(config, async (archive) => {
    const results = await loadDemo(archive.ingest);
    for (const r of results) process.stdout.write(`  ${r.description}: ${r.instances} instances ${r.outcome}\n`);
    process.stdout.write(`Demo studies loaded: open http://${config.http.host}:${config.http.port}/ (start Atrium first with 'npm start' if it is not running)\n`);
    return 0;
  });
}

type Level = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

function levelOf(value: string | undefined, fallback: Level): Level {
  const level = (value ?? fallback).toUpperCase();
  if (level !== 'PATIENT' && level !== 'STUDY' && level !== 'SERIES' && level !== 'IMAGE') {
    throw new TypeError(`Cannot use --level '${value}': expected PATIENT, STUDY, SERIES or IMAGE`);
  }
  return level;
}

function remoteAeArgument(command: string, rest: string[]): string {
  const [ae] = rest;
  if (!ae) throw new TypeError(`Cannot ${command}: name the remote AE (a configured title, or AE@host:port)`);
  return ae;
}

async function echoCommand(config: AtriumConfig, ae: string): Promise<number> {
  return withArchive(config, async (archive) => {
    const ms = await echoRemote(archive, ae);
    process.stdout.write(`C-ECHO ${ae}: success in ${ms.toFixed(0)} ms\n`);
    return 0;
  });
}

interface ScopeOptions {
  study?: string[] | undefined;
  series?: string[] | undefined;
  instance?: string[] | undefined;
}

async function sendCommand(config: AtriumConfig, ae: string, scope: ScopeOptions): Promise<number> {
  const scopes = [
    ...(scope.study ?? []).map((studyInstanceUid) => ({ studyInstanceUid })),
    ...(scope.series ?? []).map((seriesInstanceUid) => ({ seriesInstanceUid })),
    ...(scope.instance?.length ? [{ sopInstanceUids: scope.instance }] : []),
  ];
  if (scopes.length === 0) throw new TypeError('Cannot send: name a --study, --series or --instance');
  return withArchive(config, async (archive) => {
    const progress = new ProgressLine();
    let failed = 0;
    for (const s of scopes) {
      let last: { completed: number; warning: number; failed: number; remaining: number; failures: { sopInstanceUid: string; reason: string }[] } | undefined;
      for await (const p of sendToRemote(archive, ae, s)) {
        last = p;
        const done = p.completed + p.warning + p.failed;
        progress.update(() => `${bar(done / Math.max(1, done + p.remaining))} ${done}/${done + p.remaining} sent to ${ae}  failed ${p.failed}`, p.remaining === 0);
      }
      progress.done();
      if (last) {
        process.stdout.write(`Sent ${last.completed + last.warning} instance(s) to ${ae}${last.warning ? ` (${last.warning} with warnings)` : ''}, ${last.failed} failed\n`);
        for (const f of last.failures) process.stdout.write(`    ${f.sopInstanceUid}: ${f.reason}\n`);
        failed += last.failed;
      }
    }
    return failed > 0 ? 1 : 0;
  });
}

function formatMatch(match: Record<string, { Value?: readonly unknown[] }>, dictionary: { lookup(tag: number): { keyword?: string } | undefined }): string {
  return Object.entries(match)
    .map(([tag, attribute]) => {
      const keyword = dictionary.lookup(parseInt(tag, 16))?.keyword ?? tag;
      const values = (attribute.Value ?? []).map((v) => (typeof v === 'object' && v !== null ? ((v as { Alphabetic?: string }).Alphabetic ?? JSON.stringify(v)) : String(v)));
      return `${keyword}=${values.join('\\')}`;
    })
    .join('  ');
}

async function queryCommand(config: AtriumConfig, ae: string, options: { level?: string | undefined; patientRoot: boolean; key: string[]; json: boolean }): Promise<number> {
  return withArchive(config, async (archive) => {
    const level = levelOf(options.level, options.patientRoot ? 'PATIENT' : 'STUDY');
    // The level's usual return keys come first so that `-k PatientName=DOE*` still shows which studies matched
    // (and their UIDs, to retrieve them); a -k naming one of them replaces it, being later.
    const keys = queryKeys(archive.dictionary, [...defaultReturnKeys(level), ...options.key]);
    let n = 0;
    for await (const match of queryRemote(archive, ae, { model: options.patientRoot ? 'PATIENT' : 'STUDY', level, keys })) {
      n++;
      process.stdout.write((options.json ? JSON.stringify(match) : formatMatch(match, archive.dictionary)) + '\n');
    }
    if (!options.json) process.stdout.write(`${n} match(es)\n`);
    return 0;
  });
}

function defaultReturnKeys(level: Level): string[] {
  switch (level) {
    case 'PATIENT':
      return ['PatientID', 'PatientName', 'PatientBirthDate', 'NumberOfPatientRelatedStudies'];
    case 'STUDY':
      return ['StudyInstanceUID', 'PatientID', 'PatientName', 'StudyDate', 'AccessionNumber', 'ModalitiesInStudy', 'StudyDescription', 'NumberOfStudyRelatedInstances'];
    case 'SERIES':
      return ['SeriesInstanceUID', 'Modality', 'SeriesNumber', 'SeriesDescription', 'NumberOfSeriesRelatedInstances'];
    case 'IMAGE':
      return ['SOPInstanceUID', 'SOPClassUID', 'InstanceNumber'];
  }
}

async function retrieveCommand(
  config: AtriumConfig,
  ae: string,
  options: ScopeOptions & { level?: string | undefined; patientRoot: boolean; key: string[]; move: boolean; dest?: string | undefined },
): Promise<number> {
  return withArchive(config, async (archive) => {
    const texts = [...options.key];
    let fallback: Level = options.patientRoot ? 'PATIENT' : 'STUDY';
    if (options.study?.length) texts.push(`StudyInstanceUID=${options.study.join('\\')}`);
    if (options.series?.length) {
      texts.push(`SeriesInstanceUID=${options.series.join('\\')}`);
      fallback = 'SERIES';
    }
    if (options.instance?.length) {
      texts.push(`SOPInstanceUID=${options.instance.join('\\')}`);
      fallback = 'IMAGE';
    }
    if (texts.length === 0) throw new TypeError('Cannot retrieve: name a --study, --series, --instance or -k keys');
    const progress = new ProgressLine();
    const result = await retrieveRemote(archive, ae, {
      model: options.patientRoot ? 'PATIENT' : 'STUDY',
      level: levelOf(options.level, fallback),
      keys: queryKeys(archive.dictionary, texts),
      method: options.move ? 'move' : 'get',
      ...(options.dest ? { destination: options.dest } : {}),
      onProgress: (p) => progress.update(() => `${p.completed + p.warning + p.failed} done, ${p.remaining} remaining, ${p.failed} failed`),
    });
    progress.done();
    const verb = options.move ? `Moved to ${options.dest ?? config.dicom.aeTitle}` : 'Retrieved';
    process.stdout.write(`${verb}: ${result.completed} completed, ${result.warning} warning, ${result.failed} failed\n`);
    if (!options.move) {
      const counts = new Map<string, number>();
      for (const s of result.stored) counts.set(s.outcome, (counts.get(s.outcome) ?? 0) + 1);
      for (const [outcome, n] of counts) process.stdout.write(`  ${outcome}: ${n}\n`);
      for (const r of result.refused) process.stdout.write(`  refused ${r.sopInstanceUid}: ${r.reason}\n`);
    }
    for (const uid of result.failedSopInstanceUids) process.stdout.write(`  failed: ${uid}\n`);
    return result.failed > 0 || result.refused.length > 0 ? 1 : 0;
  });
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      repair: { type: 'boolean', default: false },
      'verify-digests': { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '4' },
      help: { type: 'boolean', short: 'h', default: false },
      study: { type: 'string', multiple: true },
      series: { type: 'string', multiple: true },
      instance: { type: 'string', multiple: true },
      key: { type: 'string', short: 'k', multiple: true, default: [] },
      level: { type: 'string' },
      'patient-root': { type: 'boolean', default: false },
      move: { type: 'boolean', default: false },
      dest: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig();
  switch (command) {
    case 'serve':
      await serve(config);
      return -1;
    case 'import': {
      const concurrency = Number(values.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`Cannot import: --concurrency '${values.concurrency}' is not a positive integer`);
      return importCommand(config, rest, values.json, concurrency);
    }
    case 'stats':
      return statsCommand(config, values.json);
    case 'fsck':
      return fsckCommand(config, values.repair, values['verify-digests'], values.json);
    case 'demo':
      return demoCommand(config);
    case 'echo':
      return echoCommand(config, remoteAeArgument('echo', rest));
    case 'send':
      return sendCommand(config, remoteAeArgument('send', rest), values);
    case 'query':
      return queryCommand(config, remoteAeArgument('query', rest), {
        level: values.level,
        patientRoot: values['patient-root'],
        key: values.key,
        json: values.json,
      });
    case 'retrieve':
      return retrieveCommand(config, remoteAeArgument('retrieve', rest), {
        ...values,
        patientRoot: values['patient-root'],
        key: values.key,
      });
    default:
      process.stderr.write(`Unknown command '${command}'\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`atrium: ${reasonOf(error)}\n`);
    process.exitCode = 1;
  },
);
