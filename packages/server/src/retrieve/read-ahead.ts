/** How far a retrieve reads ahead of what it is sending. */
export interface ReadAheadLimits {
  /** Instances read ahead at most (default 16), each one read whole in the meantime. */
  maxInstances?: number;
  /** Bytes read ahead at most (default 8 MiB), counted by the sizes the index records. */
  maxBytes?: number;
  /** Largest instance read ahead (default 1 MiB); larger ones are left for the caller to stream. */
  maxInstanceBytes?: number;
}

/** One item of `readAhead`, in the order given: its bytes when they were read ahead, else undefined. */
export interface ReadAheadItem<T> {
  item: T;
  bytes: Buffer | undefined;
}

const DEFAULTS: Required<ReadAheadLimits> = { maxInstances: 16, maxBytes: 8 * 1024 * 1024, maxInstanceBytes: 1024 * 1024 };

/**
 * Yields `items` in their order, each with its bytes when `read` fetched them ahead of time (architecture.md,
 * shared paths: retrieve). A study of many small instances spends most of its time in the few round trips each
 * file costs (open, stat, read, close), one file after another; reading the next few while the current one is
 * sent overlaps them. Memory stays bounded: what is read ahead is at most `maxInstances` instances and
 * `maxBytes` bytes (plus the item the caller holds), and an instance larger than `maxInstanceBytes`, or one that
 * `wanted` declines (it is to be converted, say), is not read at all: it is yielded without bytes for the caller to
 * stream. Reads start only when the caller asks for the next item, so a consumer that stops (a client gone) stops
 * the reading too; a read that failed throws when its item is reached.
 */
export async function* readAhead<T>(
  items: AsyncIterable<T> | Iterable<T>,
  options: {
    sizeOf: (item: T) => number;
    read: (item: T) => Promise<Buffer>;
    wanted?: (item: T) => boolean;
  } & ReadAheadLimits,
): AsyncGenerator<ReadAheadItem<T>> {
  const limits: Required<ReadAheadLimits> = {
    maxInstances: Math.max(1, options.maxInstances ?? DEFAULTS.maxInstances),
    maxBytes: options.maxBytes ?? DEFAULTS.maxBytes,
    maxInstanceBytes: Math.min(options.maxInstanceBytes ?? DEFAULTS.maxInstanceBytes, options.maxBytes ?? DEFAULTS.maxBytes),
  };
  const iterator = (Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]()) as
    | AsyncIterator<T>
    | Iterator<T>;
  interface Slot {
    item: T;
    size: number;
    bytes: Promise<Buffer> | undefined;
  }
  const window: Slot[] = [];
  let windowBytes = 0;
  let exhausted = false;
  // An item that did not fit the window yet, taken from `items` already.
  let waiting: T | undefined;
  let hasWaiting = false;

  const admit = (item: T): boolean => {
    const size = options.sizeOf(item);
    const readable = size <= limits.maxInstanceBytes && (options.wanted?.(item) ?? true);
    if (readable && window.length > 0 && (window.length >= limits.maxInstances || windowBytes + size > limits.maxBytes)) return false;
    if (!readable && window.length >= limits.maxInstances) return false;
    let bytes: Promise<Buffer> | undefined;
    if (readable) {
      bytes = options.read(item);
      // Reached later, or never when the consumer stops first: its failure must not be an unhandled rejection.
      bytes.catch(() => {});
      windowBytes += size;
    }
    window.push({ item, size: readable ? size : 0, bytes });
    return true;
  };

  const fill = async (): Promise<void> => {
    while (!exhausted) {
      if (hasWaiting) {
        if (!admit(waiting as T)) return;
        hasWaiting = false;
        waiting = undefined;
        continue;
      }
      // Stop at an item that is not read ahead: what follows it waits until it is reached, so a large instance
      // being streamed is never joined by a window of small ones still to come.
      if (window.length > 0 && window[window.length - 1]!.bytes === undefined) return;
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        return;
      }
      waiting = next.value;
      hasWaiting = true;
    }
  };

  // Refilled once half empty, not after every item: the reads asked for together travel together (the store's
  // read thread takes them in one batch).
  const lowWater = Math.floor(limits.maxInstances / 2);
  try {
    for (;;) {
      if (window.length <= lowWater) await fill();
      const slot = window.shift();
      if (!slot) return;
      windowBytes -= slot.size;
      const bytes = slot.bytes ? await slot.bytes : undefined;
      yield { item: slot.item, bytes };
    }
  } finally {
    await iterator.return?.();
  }
}
