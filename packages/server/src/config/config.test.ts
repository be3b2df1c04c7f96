import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.js';

function emptyDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'atrium-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('loadConfig - defaults work out of the box', (t) => {
  const cwd = emptyDir(t);
  const config = loadConfig({}, cwd);
  assert.equal(config.dataDir, join(cwd, 'data'));
  assert.equal(config.http.host, '127.0.0.1');
  assert.equal(config.http.port, 8080);
  assert.equal(config.dicom.port, 11112);
  assert.equal(config.dicom.host, '127.0.0.1', 'a fresh install is reachable from its own machine only');
  assert.equal(config.dicom.aeTitle, 'ATRIUM');
  assert.equal(config.database.path, join(cwd, 'data', 'atrium.sqlite'));
  assert.equal(config.store.root, join(cwd, 'data', 'blobs'));
  assert.equal(config.ingest.duplicatePolicy, 'keep');
});

test('loadConfig - environment overrides the file, the file overrides defaults', (t) => {
  const cwd = emptyDir(t);
  writeFileSync(
    join(cwd, 'atrium.config.json'),
    JSON.stringify({ http: { port: 9000 }, dicom: { aeTitle: 'FROMFILE', port: 104 } }),
  );
  const config = loadConfig({ ATRIUM_HTTP_PORT: '9100', ATRIUM_DATA_DIR: '/srv/atrium' }, cwd);
  assert.equal(config.http.port, 9100);
  assert.equal(config.dicom.aeTitle, 'FROMFILE');
  assert.equal(config.dicom.port, 104);
  assert.equal(config.dataDir, '/srv/atrium');
  assert.equal(config.database.path, '/srv/atrium/atrium.sqlite');
});

test('loadConfig - bad values stop start-up with the setting name', (t) => {
  const cwd = emptyDir(t);
  assert.throws(() => loadConfig({ ATRIUM_HTTP_PORT: 'eighty' }, cwd), /ATRIUM_HTTP_PORT 'eighty'/);
  assert.throws(() => loadConfig({ ATRIUM_AE_TITLE: 'A_TITLE_THAT_IS_TOO_LONG' }, cwd), /ATRIUM_AE_TITLE/);
  assert.throws(() => loadConfig({ ATRIUM_AE_TITLE: 'BACK\\SLASH' }, cwd), /no backslash/);
  assert.throws(() => loadConfig({ ATRIUM_DUPLICATE_POLICY: 'merge' }, cwd), /expected one of keep, replace, reject/);
  assert.throws(() => loadConfig({ ATRIUM_CONFIG: 'missing.json' }, cwd), /does not exist/);
  writeFileSync(join(cwd, 'atrium.config.json'), '{ not json');
  assert.throws(() => loadConfig({}, cwd), /Cannot read configuration file/);
});

test('loadConfig - durability: power-loss by default, process-crash relaxes flushing of the store and the index', (t) => {
  const cwd = emptyDir(t);
  const strict = loadConfig({}, cwd);
  assert.equal(strict.durability, 'power-loss');
  assert.equal(strict.store.fsync, true);
  assert.equal(strict.database.synchronous, 'FULL');
  const relaxed = loadConfig({ ATRIUM_DURABILITY: 'process-crash' }, cwd);
  assert.equal(relaxed.store.fsync, false);
  assert.equal(relaxed.database.synchronous, 'NORMAL');
  assert.throws(() => loadConfig({ ATRIUM_DURABILITY: 'none' }, cwd), /ATRIUM_DURABILITY 'none'/);
});

test('loadConfig - the index commit thread is off unless asked for', (t) => {
  const cwd = emptyDir(t);
  assert.equal(loadConfig({}, cwd).database.commitThread, false);
  assert.equal(loadConfig({ ATRIUM_DB_COMMIT_THREAD: 'true' }, cwd).database.commitThread, true);
  assert.throws(() => loadConfig({ ATRIUM_DB_COMMIT_THREAD: 'sometimes' }, cwd), /ATRIUM_DB_COMMIT_THREAD/);
});
