import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConnectionGate, DirectConnection, TransactionSql } from './dialect.js';
import { GroupCommit, type OwedWrites } from './group-commit.js';

/** A connection that records the statements it is given and keeps SQLite's transaction state. */
class RecordingConnection implements DirectConnection {
  readonly log: string[] = [];
  inTransaction = false;
  failOn: string | undefined;

  all<R>(): R[] {
    return [];
  }

  get<R>(): R | undefined {
    return undefined;
  }

  run(sql: string): void {
    this.log.push(sql);
    if (sql === this.failOn) throw new Error(`'${sql}' failed`);
    if (sql === 'begin immediate') this.inTransaction = true;
    if (sql === 'commit' || sql === 'rollback') this.inTransaction = false;
  }
}

const SQLITE: TransactionSql = {
  begin: 'begin immediate',
  commit: 'commit',
  rollback: 'rollback',
  savepoint: (name) => `savepoint ${name}`,
  releaseSavepoint: (name) => `release savepoint ${name}`,
  rollbackToSavepoint: (name) => `rollback to savepoint ${name}`,
};

function setUp(options: { flush?: () => Promise<void> } = {}) {
  const connection = new RecordingConnection();
  let held = false;
  const gate: ConnectionGate = {
    async acquire() {
      assert.equal(held, false, 'the connection is handed out once at a time');
      held = true;
      return connection;
    },
    tryAcquire: () => undefined,
    release() {
      held = false;
    },
  };
  const group = new GroupCommit({
    gate,
    sql: SQLITE,
    relax: () => connection.run('relax'),
    ...(options.flush ? { flush: options.flush } : {}),
  });
  return { connection, group };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('GroupCommit - members submitted together share one transaction, a failing one rolls back only its savepoint', async () => {
  const { connection, group } = setUp();
  const results = await Promise.allSettled([
    group.run(async (c) => {
      await c.run('write 1', []);
      return 1;
    }),
    group.run(async (c) => {
      await c.run('write 2', []);
      throw new Error('member 2 failed');
    }),
    group.run(async (c) => {
      await c.run('write 3', []);
      return 3;
    }),
  ]);
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    [1, 'member 2 failed', 3],
  );
  assert.deepEqual(connection.log, [
    'relax',
    'begin immediate',
    'savepoint atrium_member',
    'write 1',
    'release savepoint atrium_member',
    'savepoint atrium_member',
    'write 2',
    'rollback to savepoint atrium_member',
    'release savepoint atrium_member',
    'savepoint atrium_member',
    'write 3',
    'release savepoint atrium_member',
    'commit',
  ]);
});

test('GroupCommit - a lone member needs no savepoint, and its failure rolls the transaction back', async () => {
  const { connection, group } = setUp();
  assert.equal(await group.run(async (c) => (await c.run('write', []), 'ok')), 'ok');
  await assert.rejects(group.run(async () => Promise.reject(new Error('refused'))), /refused/);
  assert.deepEqual(connection.log, ['relax', 'begin immediate', 'write', 'commit', 'relax', 'begin immediate', 'rollback']);
});

test('GroupCommit - a lone write starts on the next turn of the event loop, not on a timer', async () => {
  const { connection, group } = setUp();
  const done = group.run(async (c) => c.run('write', []));
  assert.equal(connection.log.length, 0, 'nothing runs inside the call');
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.ok(connection.log.includes('commit'), connection.log.join(', '));
  await done;
});

test('GroupCommit - a member resolves after the flush; the next batch commits while that flush runs', async () => {
  const flushes: Array<{ promise: Promise<void>; resolve: () => void }> = [];
  const { connection, group } = setUp({
    flush: () => {
      const flush = deferred();
      flushes.push(flush);
      return flush.promise;
    },
  });
  let firstDone = false;
  const first = group.run(async (c) => c.run('write 1', [])).then(() => (firstDone = true));
  while (flushes.length === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(firstDone, false, 'committed but not yet durable');
  const second = group.run(async (c) => c.run('write 2', []));
  while (flushes.length === 1) await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(connection.log.filter((s) => s === 'commit').length, 2, 'the second batch committed meanwhile');
  assert.equal(firstDone, false);
  flushes[0]!.resolve();
  await first;
  flushes[1]!.resolve();
  await second;
});

test('GroupCommit - a failed flush rejects the members it was to make durable', async () => {
  const { group } = setUp({ flush: () => Promise.reject(new Error('EIO')) });
  await assert.rejects(group.run(async (c) => c.run('write', [])), /EIO/);
});

test('GroupCommit - when the engine ends the transaction, the members before are rejected and the rest run anew', async () => {
  const { connection, group } = setUp();
  const results = await Promise.allSettled([
    group.run(async (c) => (await c.run('write 1', []), 1)),
    group.run(async () => {
      // SQLite rolls the whole transaction back by itself on some errors (a full disk, an I/O error).
      connection.inTransaction = false;
      throw new Error('database or disk is full');
    }),
    group.run(async (c) => (await c.run('write 3', []), 3)),
  ]);
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    ['database or disk is full', 'database or disk is full', 3],
  );
  assert.deepEqual(connection.log.slice(-4), ['relax', 'begin immediate', 'write 3', 'commit']);
});

test('GroupCommit - a failed commit rejects every member of the transaction and leaves the connection usable', async () => {
  const { connection, group } = setUp();
  connection.failOn = 'commit';
  const results = await Promise.allSettled([group.run(async () => 1), group.run(async () => 2)]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  assert.deepEqual(connection.log.slice(-2), ['commit', 'rollback']);
  connection.failOn = undefined;
  assert.equal(await group.run(async () => 'after'), 'after');
});

test('GroupCommit - a failing transaction step rejects every member, even when the rollback fails too', async () => {
  const { connection, group } = setUp();
  const failing = { run: connection.run.bind(connection) };
  connection.run = (sql: string) => {
    if (sql === 'savepoint atrium_member') {
      connection.inTransaction = true;
      throw new Error('disk I/O error');
    }
    if (sql === 'rollback') throw new Error('cannot rollback');
    failing.run(sql);
  };
  const results = await Promise.allSettled([group.run(async () => 1), group.run(async () => 2)]);
  assert.deepEqual(
    results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value)),
    ['disk I/O error', 'disk I/O error'],
  );
  connection.run = failing.run;
  connection.inTransaction = false;
  assert.equal(await group.run(async () => 'after'), 'after', 'the connection was handed back');
});

/** A count owed by members, summed when one absorbs another, written as one statement. */
class OwedCount implements OwedWrites {
  constructor(public total: number) {}

  absorb(later: OwedWrites): boolean {
    if (!(later instanceof OwedCount)) return false;
    this.total += later.total;
    return true;
  }

  async write(connection: DirectConnection): Promise<void> {
    connection.run(`add ${this.total}`, []);
  }
}

test('GroupCommit - owed writes of a transaction are merged and written once before it commits; a failing member owes nothing', async () => {
  const { connection, group } = setUp();
  const owes = { defersOwed: true };
  const results = await Promise.allSettled([
    group.run(async (c, scope) => (c.run('write 1', []), scope.owe(new OwedCount(1)), 1), owes),
    group.run(async (c, scope) => {
      c.run('write 2', []);
      scope.owe(new OwedCount(10));
      throw new Error('member 2 failed');
    }, owes),
    group.run(async (c, scope) => (c.run('write 3', []), scope.owe(new OwedCount(100)), 3), owes),
  ]);
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    [1, 'member 2 failed', 3],
  );
  assert.deepEqual(connection.log.slice(-3), ['release savepoint atrium_member', 'add 101', 'commit']);
  assert.equal(connection.log.filter((s) => s.startsWith('add')).length, 1);
});

test('GroupCommit - what is owed is written before a member that did not say it can do without, outside its savepoint', async () => {
  const { connection, group } = setUp();
  const results = await Promise.allSettled([
    group.run(async (_c, scope) => (scope.owe(new OwedCount(1)), 1), { defersOwed: true }),
    group.run(async (c) => {
      c.run('read counts', []);
      throw new Error('reader failed');
    }),
    group.run(async (_c, scope) => (scope.owe(new OwedCount(2)), 3), { defersOwed: true }),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual(connection.log.slice(3), [
    'release savepoint atrium_member',
    'add 1',
    'savepoint atrium_member',
    'read counts',
    'rollback to savepoint atrium_member',
    'release savepoint atrium_member',
    'savepoint atrium_member',
    'release savepoint atrium_member',
    'add 2',
    'commit',
  ]);
});

test('GroupCommit - writes a member settled inside its savepoint are owed again when it is rolled back', async () => {
  const { connection, group } = setUp();
  const owes = { defersOwed: true };
  const results = await Promise.allSettled([
    group.run(async (_c, scope) => (scope.owe(new OwedCount(1)), 1), owes),
    group.run(async (c, scope) => {
      await scope.settle();
      c.run('read counts', []);
      throw new Error('replacement failed');
    }, owes),
    group.run(async (_c, scope) => (scope.owe(new OwedCount(2)), 3), owes),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  const adds = connection.log.map((s, i) => [s, i] as const).filter(([s]) => s.startsWith('add'));
  // Written once inside the rolled-back savepoint (undone), then again, merged with the third member's, before the commit.
  assert.deepEqual(adds.map(([s]) => s), ['add 1', 'add 3']);
  assert.deepEqual(connection.log.slice(-3), ['release savepoint atrium_member', 'add 3', 'commit']);
  assert.ok(connection.log.indexOf('rollback to savepoint atrium_member') > adds[0]![1]);
});

test('GroupCommit - a member without the option cannot owe writes', async () => {
  const { group } = setUp();
  await assert.rejects(group.run(async (_c, scope) => scope.owe(new OwedCount(1))), /without the `defersOwed` option/);
});

test('GroupCommit - an owed write that fails inside a member\'s settle fails that member only, and is owed again', async () => {
  const { connection, group } = setUp();
  const defersOwed = { defersOwed: true };
  let failOnce = true;
  const flaky = new OwedCount(1);
  const write = flaky.write.bind(flaky);
  flaky.write = async (c) => {
    if (failOnce) {
      failOnce = false;
      throw new Error('cannot update counts');
    }
    await write(c);
  };
  const results = await Promise.allSettled([
    group.run(async (_c, scope) => (scope.owe(flaky), 1), defersOwed),
    group.run(async (_c, scope) => {
      await scope.settle();
      return 2;
    }, defersOwed),
    group.run(async (_c, scope) => (scope.owe(new OwedCount(2)), 3), defersOwed),
  ]);
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    [1, 'cannot update counts', 3],
  );
  assert.deepEqual(connection.log.slice(-3), ['release savepoint atrium_member', 'add 3', 'commit']);
});
