import { parseArgs } from 'node:util';
import { loadConfig, type AtriumConfig } from './config/config.js';
import { createLogger } from './logger.js';
import { openArchive, startServer, type Archive } from './main.js';
import { importFiles, walkFiles, type ImportFileResult } from './import/import-files.js';
import { fsck } from './fsck/fsck.js';
import { loadDemo } from './demo/demo.js';
import { ProgressLine, bar, formatMegabytes } from './cli/progress.js';
import { reasonOf } from './errors.js';

const USAGE = `Usage: atrium <command> [options]

Commands:
  serve                      run Atrium (HTTP on ATRIUM_HTTP_PORT, default 8080; data in ATRIUM_DATA_DIR, default ./data)
  import <file|folder>...    store DICOM files (folders are searched recursively); exit code 1 if any was rejected
      --json                 one JSON line per file on stdout instead of the progress bar
      --concurrency N        files in flight (default 4)
  stats [--json]             counts of patients, studies, series, instances and bytes
  fsck [--repair] [--verify-digests] [--json]
                             prove that the index and the stored files agree; --repair fixes what it safely can
  demo                       load synthetic studies (CT, echo clip, 12-lead ECG) so there is something to look at
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
  const server = await startServer(config, logger);
  const stats = await server.archive.archive.stats();
  process.stdout.write(
    `Atrium is running.\n` +
      `  Web and API:  ${server.httpUrl}/\n` +
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
    process.stdout.write(`Demo studies loaded. Start Atrium with 'npm start' and open http://${config.http.host}:${config.http.port}/\n`);
    return 0;
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
