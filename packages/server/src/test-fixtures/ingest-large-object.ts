/**
 * Run as a child process by `ingest/large-object.int.test.ts`: ingests one synthetic multi-frame object of about
 * the requested size into a fresh archive and prints the outcome and this process's peak RSS as one JSON line. A
 * separate process, so that the peak measured is the ingest's and not the test runner's.
 */
import { buildUltrasoundClip } from '@atrium/dicom';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../logger.js';
import { openArchive } from '../main.js';
import { fsck } from '../fsck/fsck.js';

const dataDir = process.argv[2]!;
const targetBytes = Number(process.argv[3]);
const rows = 512;
const columns = 512;
const frames = Math.ceil(targetBytes / (rows * columns * 3));

const config = loadConfig({ ATRIUM_DATA_DIR: dataDir, ATRIUM_LOG_LEVEL: 'silent' }, dataDir);
const archive = await openArchive(config, createLogger(config));
const clip = buildUltrasoundClip({ frames, rows, columns, photometricInterpretation: 'RGB' });
const started = performance.now();
const result = await archive.ingest.ingest(clip.chunks(), { kind: 'import' });
const seconds = (performance.now() - started) / 1000;
const metadata = await archive.archive.getInstanceMetadata(result.sopInstanceUid);
const report = await fsck(archive);
await archive.close();
process.stdout.write(
  JSON.stringify({
    outcome: result.outcome,
    size: result.size,
    expectedSize: clip.byteLength,
    frames: metadata?.frames.length,
    expectedFrames: frames,
    fsckClean: report.clean,
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }) + '\n',
);
