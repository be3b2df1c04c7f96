import { statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Group commit for SQLite in WAL mode. A transaction committed with `synchronous=NORMAL` has written its frames to
 * the `-wal` file but not flushed them; `sync()` flushes them with an fdatasync of that file from the thread pool,
 * which makes every commit written before it durable (the same guarantee `synchronous=FULL` gives, SQLite §
 * "WAL mode and synchronous"), without blocking the event loop, and shared by every commit that waits meanwhile.
 *
 * The file is the one SQLite keeps open for its connection: it is reset, never replaced, while the connection
 * lives; the inode is still checked before each flush so a replaced file can never be flushed in vain.
 */
export class WalSync {
  readonly #path: string;
  #handle: FileHandle | undefined;
  #inode = -1;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  /** A flush promised within a delay (`syncSoon`), and how to start it at once. */
  #soon: { promise: Promise<void>; start: () => void } | undefined;
  #closed = false;

  constructor(databasePath: string) {
    this.#path = `${databasePath}-wal`;
  }

  /** Resolves once every frame written to the WAL before the call is on disk. */
  sync(): Promise<void> {
    const soon = this.#soon;
    if (soon) {
      // Whoever waits for the delayed flush is served by this one.
      this.#soon = undefined;
      soon.start();
      return soon.promise;
    }
    return this.#syncNow();
  }

  /**
   * Like `sync`, but the flush may start up to `delayMs` later, so that the commits made meanwhile share it: for
   * commits whose answer does not wait for their durability (see the ingest pipeline), where one flush per commit
   * would cost a device flush each and hold the WAL's inode lock against the next commit's writes.
   */
  syncSoon(delayMs: number): Promise<void> {
    if (this.#queued) return this.#queued;
    if (this.#soon) return this.#soon.promise;
    let start!: () => void;
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => start(), delayMs);
      start = () => {
        clearTimeout(timer);
        start = () => undefined;
        if (this.#soon?.promise === promise) this.#soon = undefined;
        resolve(this.#syncNow());
      };
    });
    this.#soon = { promise, start: () => start() };
    return promise;
  }

  #syncNow(): Promise<void> {
    if (this.#queued) return this.#queued;
    if (!this.#running) return this.#start();
    // A flush is under way, but it may have started before our frames were written: wait for the next one.
    const next = this.#running.then(
      () => this.#afterQueue(),
      () => this.#afterQueue(),
    );
    this.#queued = next;
    return next;
  }

  async close(): Promise<void> {
    // A delayed flush still owed is made before the file is let go.
    if (this.#soon) await this.sync().catch(() => undefined);
    this.#closed = true;
    await this.#running?.catch(() => undefined);
    await this.#queued?.catch(() => undefined);
    await this.#handle?.close();
    this.#handle = undefined;
  }

  #afterQueue(): Promise<void> {
    this.#queued = undefined;
    return this.#start();
  }

  #start(): Promise<void> {
    const run = this.#flush();
    this.#running = run;
    void run.then(
      () => this.#clear(run),
      () => this.#clear(run),
    );
    return run;
  }

  #clear(run: Promise<void>): void {
    if (this.#running === run) this.#running = undefined;
  }

  async #flush(): Promise<void> {
    if (this.#closed) throw new Error(`Cannot flush '${this.#path}': the database is closed`);
    if (this.#handle) {
      // The check is a cached lookup, made on the event loop rather than as a second trip through the thread
      // pool beside the flush. The file is almost never replaced; when it was, this flush is merely wasted and the
      // new one is flushed below.
      const replaced = statSync(this.#path, { throwIfNoEntry: false })?.ino !== this.#inode;
      await this.#handle.datasync();
      if (!replaced) return;
    }
    await this.#handle?.close();
    this.#handle = await open(this.#path, 'r');
    this.#inode = (await this.#handle.stat()).ino;
    await this.#handle.datasync();
  }
}
