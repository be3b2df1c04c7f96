import { Worker, type Transferable } from 'node:worker_threads';

/**
 * A worker thread, run from JavaScript source, that answers requests by their id: started at the first request,
 * referenced while a request is unanswered (so that a process with nothing else to wait for, a CLI import, does not
 * exit under it) and never while idle. A thread that dies fails the requests it had not answered; the next request
 * starts a new one. What the store's staging file maker and blob reader share; each keeps its own waiters (`W`) and
 * says how a reply or a failure reaches them.
 */
export class RequestThread<W, R extends { id: number }> {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, W>();

  /** `name` goes into the error when the thread stops (`The <name> thread stopped`). */
  constructor(
    private readonly source: string,
    private readonly name: string,
    private readonly handlers: { answer: (waiter: W, reply: R) => void; fail: (waiter: W, error: Error) => void },
  ) {}

  /** Whether no request is waiting for its answer. */
  get idle(): boolean {
    return this.#pending.size === 0;
  }

  /** Whether the thread is running (it is started by the first request, stopped by `close` or its death). */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** Posts the message made for a new request id; throws when the thread cannot start. */
  request(waiter: W, message: (id: number) => unknown, transfer?: readonly Transferable[]): void {
    const worker = this.#start();
    const id = this.#nextId++;
    if (this.#pending.size === 0) worker.ref();
    this.#pending.set(id, waiter);
    try {
      worker.postMessage(message(id), transfer);
    } catch (error) {
      // Not posted (a value that cannot be cloned): nothing will answer it, and an idle thread must not hold the
      // process.
      this.#pending.delete(id);
      if (this.#pending.size === 0) worker.unref();
      throw error;
    }
  }

  /** Posts a message the thread does not answer; nothing when it is not running. */
  post(message: unknown, transfer?: readonly Transferable[]): void {
    this.#worker?.postMessage(message, transfer);
  }

  /** Stops the thread; the requests it had not answered fail with `reason`. */
  async close(reason: string): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
    this.#failAll(new Error(reason));
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(this.source, { eval: true });
    worker.unref();
    worker.on('message', (reply: R) => {
      const waiter = this.#pending.get(reply.id);
      if (waiter === undefined) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      this.handlers.answer(waiter, reply);
    });
    const lost = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(error);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`The ${this.name} thread stopped (exit code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #failAll(error: Error): void {
    for (const waiter of this.#pending.values()) this.handlers.fail(waiter, error);
    this.#pending.clear();
  }
}
