/**
 * The retrieval service with the REAL embedder code on the lexical fixture
 * (fixtures/lexical-minilm-384: similarity follows shared words), over a
 * fake-indexeddb database: what a person would notice. A remembered fact
 * comes back for a related question and stays out of an unrelated one;
 * proposals stay out until accepted; a deleted document's chunks are gone;
 * vectors of another embedder are never mixed in, and re-embedding brings
 * them back. The results feed prompt assembly unchanged.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { AbortedError } from '../../src/lib/engine/errors';
import { assemblePrompt } from '../../src/lib/governance/prompt-assembly';
import { chunkText } from '../../src/lib/memory/chunking';
import type { TextEmbedder } from '../../src/lib/memory/types';
import { importAll } from '../../src/services/backup';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { addDocument } from '../../src/services/document-repository';
import { DEFAULT_MIN_SCORE, KnowledgeBase } from '../../src/services/knowledge';
import { addMemory } from '../../src/services/memory-repository';
import { buildExport, serializeExport } from '../../src/lib/data/export-format';
import { FIXTURE_EMBEDDER, realEmbedder, serveModels, type ModelServer } from './model-server';
import { vector } from './memory-vectors';

let models: ModelServer;
let embedder: TextEmbedder;
beforeAll(async () => {
  models = await serveModels();
  embedder = realEmbedder(models.source);
});
afterAll(async () => {
  await models.close();
});

let db: H3lixDatabase;
let knowledge: KnowledgeBase;
let clock = 1_000;
let ids = 0;
const makers = { now: () => clock, newId: () => `id${++ids}` };
const now = () => clock;

beforeEach(async () => {
  db = await openDatabase(`knowledge-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  knowledge = await KnowledgeBase.open(db, FIXTURE_EMBEDDER);
  clock = 1_000;
  ids = 0;
});
afterEach(async () => {
  await db.delete();
});

async function embedOne(text: string): Promise<Float32Array> {
  return (await embedder.embed([text]))[0]!;
}

async function remember(text: string, conversationId: string | null = 'conv-1') {
  return knowledge.addMemory({ text, conversationId, embedding: await embedOne(text) }, makers);
}

async function ask(question: string, k = 5) {
  return knowledge.retrieve(await embedOne(question), { k });
}

/** The document pipeline the app runs: chunk, embed, store. Small chunks, so each section is its own. */
async function addMarkdown(name: string, text: string) {
  const chunks = chunkText(text, { maxChars: 100, overlapChars: 0 });
  const embeddings = await embedder.embed(chunks);
  return knowledge.addDocument(
    { name, mime: 'text/markdown', bytes: text.length, chunks: chunks.map((chunk, i) => ({ text: chunk, embedding: embeddings[i]! })) },
    makers,
  );
}

describe('KnowledgeBase', () => {
  it('retrieves a remembered fact for a related question, with its provenance', async () => {
    const memory = await remember("My sister's birthday is on March 3");
    await remember('I am allergic to peanuts');
    const items = await ask("When is my sister's birthday?");
    expect(items[0]).toMatchObject({
      kind: 'memory',
      id: memory.id,
      title: "My sister's birthday is on March 3",
      text: "My sister's birthday is on March 3",
      provenance: { kind: 'memory', createdAt: 1_000, conversationId: 'conv-1' },
    });
    expect(items[0]!.score).toBeGreaterThan(0.5);
    expect(items.map((i) => i.text)).not.toContain('I am allergic to peanuts');
  });

  it('an unrelated question pulls nothing above the threshold', async () => {
    await remember("My sister's birthday is on March 3");
    await remember('I am allergic to peanuts');
    expect(await ask('What is the capital of France?')).toEqual([]);
    // Below the threshold they are there, just not relevant.
    const all = knowledge.retrieve(await embedOne('What is the capital of France?'), { k: 5, minScore: -1 });
    expect(all).toHaveLength(2);
    for (const item of all) expect(item.score).toBeLessThan(DEFAULT_MIN_SCORE);
  });

  it('proposals are not retrieved until accepted', async () => {
    const text = 'I live in Lisbon near the river';
    const proposal = await knowledge.proposeMemory({ text, conversationId: 'conv-2', embedding: await embedOne(text) }, makers);
    expect(proposal).not.toBeNull();
    expect(knowledge.size).toBe(0);
    expect(await ask('Where do I live? Lisbon?')).toEqual([]);
    await knowledge.acceptMemory(proposal!.id, now);
    expect((await ask('Where do I live? Lisbon?')).map((i) => i.id)).toEqual([proposal!.id]);
  });

  it('an edited memory is found by its new words, not its old ones; a deleted one not at all', async () => {
    const memory = await remember('My car is a blue Volvo');
    const newText = 'My bicycle is a green Brompton';
    await knowledge.updateMemory(memory.id, { text: newText, embedding: await embedOne(newText) }, now);
    expect(await ask('What colour is my Volvo car?')).toEqual([]);
    expect((await ask('Which bicycle do I ride? The Brompton?'))[0]).toMatchObject({ id: memory.id, text: newText });
    await knowledge.deleteMemory(memory.id);
    expect(await ask('Which bicycle do I ride? The Brompton?')).toEqual([]);
    expect(knowledge.size).toBe(0);
  });

  it('retrieves the matching chunk of a document, and nothing of it once the document is deleted', async () => {
    const text = [
      '# Garden notes',
      '## Tomatoes',
      'Tomatoes need full sun and deep watering twice a week.',
      '## Roses',
      'Prune the roses in late winter, just above an outward facing bud.',
      '## Compost',
      'Turn the compost heap every fortnight to keep it aerobic.',
    ].join('\n\n');
    const { document, chunks } = await addMarkdown('garden.md', text);
    expect(chunks.map((c) => c.text.split('\n')[0])).toEqual(['# Garden notes', '## Roses', '## Compost']);
    const [best] = await ask('When should I prune the roses?');
    expect(best).toMatchObject({ kind: 'document', title: 'garden.md' });
    expect(best!.text).toContain('Prune the roses');
    expect(best!.provenance).toEqual({
      kind: 'document',
      documentId: document.id,
      documentName: 'garden.md',
      chunk: chunks.find((c) => c.text.includes('Prune'))!.index,
    });
    await knowledge.deleteDocument(document.id);
    expect(await ask('When should I prune the roses?')).toEqual([]);
    expect(knowledge.size).toBe(0);
  });

  it('never mixes in vectors from another embedder; counts them as stale; re-embedding brings them back', async () => {
    const question = 'What is my favourite colour?';
    // Stored by another embedder, with a vector that would match perfectly if it were compared.
    await addMemory(db, { text: 'My favourite colour is green', conversationId: null, embedding: await embedOne(question), embedderId: 'other/embedder' }, makers);
    await addDocument(
      db,
      { name: 'old.md', mime: 'text/markdown', bytes: 10, embedderId: 'other/embedder', chunks: [{ text: 'My favourite colour notes', embedding: await embedOne(question) }] },
      makers,
    );
    await knowledge.reload();
    expect(knowledge.size).toBe(0);
    expect(knowledge.stale).toEqual({ memories: 1, documents: 1, chunks: 1 });
    expect(knowledge.retrieve(await embedOne(question), { minScore: -1 })).toEqual([]);

    const progress: number[] = [];
    const done = await knowledge.reembedAll(embedder, { onProgress: (p) => progress.push(p.done) });
    expect(done).toEqual({ memories: 1, documents: 1, chunks: 1 });
    expect(progress).toEqual([0, 1, 2]);
    expect(knowledge.stale).toEqual({ memories: 0, documents: 0, chunks: 0 });
    expect((await ask(question)).map((i) => i.text).sort()).toEqual(['My favourite colour is green', 'My favourite colour notes']);
    // And it is stored: a fresh knowledge base sees the same.
    const fresh = await KnowledgeBase.open(db, FIXTURE_EMBEDDER);
    expect(fresh.size).toBe(2);
    await expect(knowledge.reembedAll({ ...embedder, embedderId: 'other/embedder' })).rejects.toThrow(RangeError);
  });

  it('re-embedding can be cancelled, keeps what it did, and resumes', async () => {
    for (let i = 0; i < 40; i++) {
      await addMemory(db, { text: `fact number ${i}`, conversationId: null, embedding: vector(i + 1), embedderId: 'other/embedder' }, makers);
    }
    await knowledge.reload();
    const stop = new AbortController();
    const first = knowledge.reembedAll(embedder, { signal: stop.signal, onProgress: (p) => p.done > 0 && stop.abort() });
    await expect(first).rejects.toBeInstanceOf(AbortedError);
    expect(knowledge.stale.memories).toBe(40 - 32);
    expect(knowledge.size).toBe(32);
    expect(await knowledge.reembedAll(embedder)).toEqual({ memories: 8, documents: 0, chunks: 0 });
    expect(knowledge.size).toBe(40);
  });

  it('reload picks up what another tab or an import wrote', async () => {
    const text = 'My dentist is Dr Silva on Baker Street';
    const file = buildExport(
      {
        conversations: [],
        messages: [],
        settings: [],
        memories: [
          {
            id: 'imported',
            text,
            status: 'accepted',
            origin: 'person',
            conversationId: null,
            createdAt: 5,
            updatedAt: 5,
            embedding: await embedOne(text),
            embedderId: FIXTURE_EMBEDDER,
          },
        ],
      },
      { exportedAt: 0, app: { name: 'H3LIX', version: 'test' } },
    );
    await importAll(db, serializeExport(file));
    expect(await ask('Who is my dentist on Baker Street?')).toEqual([]);
    await knowledge.reload();
    expect((await ask('Who is my dentist on Baker Street?'))[0]).toMatchObject({ id: 'imported', provenance: { createdAt: 5, conversationId: null } });
  });

  it('its items go into prompt assembly as they are, and come out as evidence with provenance', async () => {
    await remember('I am allergic to peanuts');
    await addMarkdown('recipes.md', 'Peanut sauce: blend roasted peanuts with lime and soy.');
    const items = await ask('Can I eat the peanut sauce if I am allergic to peanuts?');
    expect(items.map((i) => i.kind).sort()).toEqual(['document', 'memory']);
    const prompt = assemblePrompt({
      systemPrompt: 'You are helpful.',
      standingInstructions: '',
      items,
      history: [],
      question: 'Can I eat the peanut sauce?',
      contextWindow: 2_048,
      reserveForReply: 256,
      contextBudget: 512,
    });
    expect(prompt.used.map((u) => u.kind).sort()).toEqual(['document', 'memory']);
    const memory = prompt.used.find((u) => u.kind === 'memory')!;
    expect(memory.provenance).toEqual({ kind: 'memory', createdAt: 1_000, conversationId: 'conv-1' });
    const document = prompt.used.find((u) => u.kind === 'document')!;
    expect(document.provenance).toMatchObject({ kind: 'document', documentName: 'recipes.md', chunk: 0 });
  });

  it('k bounds the results, best first', async () => {
    for (const animal of ['cat', 'dog', 'bird', 'fish']) await remember(`My pet ${animal} likes the garden`);
    const items = knowledge.retrieve(await embedOne('My pet cat likes the garden'), { k: 2, minScore: 0 });
    expect(items).toHaveLength(2);
    expect(items[0]!.text).toBe('My pet cat likes the garden');
    expect(items[0]!.score).toBeGreaterThanOrEqual(items[1]!.score);
  });
});
