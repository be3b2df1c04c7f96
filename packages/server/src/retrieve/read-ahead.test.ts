import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readAhead } from './read-ahead.js';

interface Item {
  name: string;
  size: number;
}

/** Reads that finish in a scrambled order, recording how much was read and not yet taken at any time. */
function tracker() {
  let outstanding = 0;
  let outstandingBytes = 0;
  const peak = { count: 0, bytes: 0 };
  const read: string[] = [];
  let turn = 0;
  return {
    read: async (item: Item): Promise<Buffer> => {
      read.push(item.name);
      outstanding++;
      outstandingBytes += item.size;
      peak.count = Math.max(peak.count, outstanding);
      peak.bytes = Math.max(peak.bytes, outstandingBytes);
      // Later reads finish first now and then: order must come from the item list, not from completion.
      await new Promise((resolve) => setTimeout(resolve, (turn++ * 7) % 5));
      return Buffer.alloc(item.size, item.name);
    },
    taken: (item: Item) => {
      outstanding--;
      outstandingBytes -= item.size;
    },
    peak,
    readNames: read,
  };
}

describe('readAhead', () => {
  test('readAhead - yields every item in its order with its bytes, never holding more than the limits', async () => {
    const items: Item[] = Array.from({ length: 50 }, (_, i) => ({ name: String.fromCharCode(65 + (i % 26)), size: 100 + (i % 7) * 50 }));
    const t = tracker();
    const seen: string[] = [];
    for await (const { item, bytes } of readAhead(items, { sizeOf: (i) => i.size, read: t.read, maxInstances: 4, maxBytes: 1000, maxInstanceBytes: 400 })) {
      t.taken(item);
      seen.push(item.name);
      assert.ok(bytes, `bytes of ${item.name}`);
      assert.equal(bytes.length, item.size);
      assert.equal(bytes.toString()[0], item.name);
    }
    assert.deepEqual(seen, items.map((i) => i.name));
    // The limits hold for what is read ahead; the item the consumer holds comes on top.
    assert.ok(t.peak.count <= 4 + 1, `at most 5 held, saw ${t.peak.count}`);
    assert.ok(t.peak.bytes <= 1000 + 400, `at most 1400 bytes held, saw ${t.peak.bytes}`);
  });

  test('readAhead - large and declined items are yielded without bytes and not read, in their place', async () => {
    const items: Item[] = [
      { name: 'a', size: 10 },
      { name: 'big', size: 5000 },
      { name: 'b', size: 10 },
      { name: 'skip', size: 10 },
      { name: 'c', size: 10 },
    ];
    const t = tracker();
    const out: Array<[string, boolean]> = [];
    for await (const { item, bytes } of readAhead(items, { sizeOf: (i) => i.size, read: t.read, wanted: (i) => i.name !== 'skip', maxInstanceBytes: 1000 })) {
      out.push([item.name, bytes !== undefined]);
    }
    assert.deepEqual(out, [
      ['a', true],
      ['big', false],
      ['b', true],
      ['skip', false],
      ['c', true],
    ]);
    assert.deepEqual(t.readNames, ['a', 'b', 'c']);
  });

  test('readAhead - a failed read throws at its item, after the items before it', async () => {
    const items = [1, 2, 3, 4];
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const { item } of readAhead(items, {
          sizeOf: () => 1,
          read: async (i) => {
            if (i === 3) throw new Error('disk failed on 3');
            return Buffer.from([i]);
          },
        })) {
          seen.push(item);
        }
      })(),
      /disk failed on 3/,
    );
    assert.deepEqual(seen, [1, 2]);
  });

  test('readAhead - a consumer that stops stops the reading and closes the source', async () => {
    let pulled = 0;
    let closed = false;
    async function* source(): AsyncGenerator<number> {
      try {
        for (let i = 0; i < 1000; i++) {
          pulled++;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    const reads: number[] = [];
    for await (const { item } of readAhead(source(), { sizeOf: () => 1, read: async (i) => (reads.push(i), Buffer.from([1])), maxInstances: 8 })) {
      if (item === 2) break;
    }
    assert.ok(closed, 'source closed');
    assert.ok(pulled <= 3 + 8 + 1, `pulled ${pulled} of 1000`);
    assert.ok(reads.length <= 3 + 8, `read ${reads.length}`);
  });
});
