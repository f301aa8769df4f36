/**
 * Long-term memory and private documents as the UI sees them: what the
 * assistant remembers (and proposes to remember), the person's files, and
 * retrieval for each reply. Everything is embedded on this device and stays
 * here. Storage and the vector index live in KnowledgeBase; the embedder in
 * its own worker.
 */
import type { Memory, PrivateDocument, TextEmbedder } from '../lib/memory/types';
import { analyseMessage } from '../lib/memory/remember';
import { chunkText } from '../lib/memory/chunking';
import type { RetrievedItem } from '../lib/governance/prompt-assembly';
import type { KnowledgeBase } from '../services/knowledge';
import { filterMemories } from '../services/memory-repository';
import type { Retriever } from './chat.svelte';

export interface MemoryDeps {
  knowledge: () => KnowledgeBase | null;
  embedder: () => TextEmbedder | null;
  listMemories: () => Promise<Memory[]>;
  listDocuments: () => Promise<PrivateDocument[]>;
  /** Plain text of a file the person added (PDF text layer, or the text itself). */
  readFileText: (file: File, signal: AbortSignal) => Promise<string>;
  now: () => number;
  newId: () => string;
}

/** Texts embedded per worker call while a document is added (keeps progress moving and memory bounded). */
const EMBED_BATCH = 16;
export const MAX_DOCUMENT_BYTES = 30 * 1024 * 1024;

function message(err: unknown): string {
  if (err instanceof Error) {
    const hint = (err as { hint?: unknown }).hint;
    return typeof hint === 'string' && hint ? `${err.message} ${hint}` : err.message;
  }
  return String(err);
}

/** More retrieval sharing the question's embedding (the network's accepted artifacts). */
export interface ExtraRetrieval {
  /** Whether there is anything to search now (no embedding is computed otherwise). */
  active(): boolean;
  retrieve(question: string, vector: ArrayLike<number> | null, contextWindow: number): RetrievedItem[];
}

export class MemoryState {
  memories = $state.raw<Memory[]>([]);
  documents = $state.raw<PrivateDocument[]>([]);
  query = $state('');
  /** Outcome of the last operation, for a status line. */
  message = $state('');
  /** Adding a document: what is happening, for a progress line. */
  progress = $state('');
  busy = $state(false);

  accepted: Memory[] = $derived(filterMemories(this.memories.filter((m) => m.status === 'accepted'), this.query));
  proposed: Memory[] = $derived(this.memories.filter((m) => m.status === 'proposed'));

  #deps: MemoryDeps;
  #abort: AbortController | null = null;

  constructor(deps: MemoryDeps) {
    this.#deps = deps;
  }

  async load(): Promise<void> {
    const [memories, documents] = await Promise.all([this.#deps.listMemories(), this.#deps.listDocuments()]);
    this.memories = memories;
    this.documents = documents;
  }

  #require(): { kb: KnowledgeBase; embedder: TextEmbedder } {
    const kb = this.#deps.knowledge();
    const embedder = this.#deps.embedder();
    if (!kb || !embedder) throw new Error('Memory is not ready yet.');
    return { kb, embedder };
  }

  async #embedOne(text: string): Promise<Float32Array> {
    const [vector] = await this.#require().embedder.embed([text]);
    if (!vector) throw new Error('The embedder returned nothing.');
    return vector;
  }

  /** Stores a fact the person asked the assistant to remember. */
  async remember(text: string, conversationId: string | null): Promise<boolean> {
    try {
      const { kb } = this.#require();
      const embedding = await this.#embedOne(text);
      await kb.addMemory({ text, conversationId, embedding }, { now: this.#deps.now, newId: this.#deps.newId });
      this.message = `Remembered: ${text}`;
      await this.load();
      return true;
    } catch (err) {
      this.message = `Could not remember that: ${message(err)}`;
      return false;
    }
  }

  /**
   * Looks at a message the person sent: an explicit "remember that …" is
   * stored; self-descriptions become proposals to accept or dismiss.
   * Only the person's own messages come here, never the model's.
   */
  async handlePersonMessage(text: string, conversationId: string): Promise<void> {
    const analysis = analyseMessage(text);
    if (analysis.remember?.kind === 'fact') await this.remember(analysis.remember.fact, conversationId);
    else if (analysis.remember?.kind === 'too-long') {
      this.message = `That is too long to remember (${analysis.remember.length} characters; the limit is ${analysis.remember.limit}). Please shorten it.`;
    }
    if (analysis.proposals.length === 0) return;
    try {
      const { kb, embedder } = this.#require();
      const vectors = await embedder.embed(analysis.proposals.map((p) => p.text));
      let added = 0;
      for (const [i, p] of analysis.proposals.entries()) {
        const made = await kb.proposeMemory(
          { text: p.text, conversationId, embedding: vectors[i]! },
          { now: this.#deps.now, newId: this.#deps.newId },
        );
        if (made) added++;
      }
      if (added) {
        this.message = `${added} new ${added === 1 ? 'memory' : 'memories'} proposed: review in Memory.`;
        await this.load();
      }
    } catch (err) {
      console.warn('Could not propose memories', err);
    }
  }

  async accept(id: string): Promise<void> {
    await this.#run(async ({ kb }) => {
      await kb.acceptMemory(id, this.#deps.now);
      return 'Memory accepted.';
    });
  }

  async remove(id: string): Promise<void> {
    await this.#run(async ({ kb }) => {
      await kb.deleteMemory(id);
      return 'Memory deleted.';
    });
  }

  async edit(id: string, text: string): Promise<void> {
    await this.#run(async ({ kb }) => {
      const embedding = await this.#embedOne(text);
      await kb.updateMemory(id, { text, embedding }, this.#deps.now);
      return 'Memory updated.';
    });
  }

  async addDocument(file: File): Promise<void> {
    if (file.size > MAX_DOCUMENT_BYTES) {
      this.message = `${file.name} is too large (${Math.round(file.size / 1e6)} MB; the limit is ${MAX_DOCUMENT_BYTES / 1e6} MB).`;
      return;
    }
    const abort = new AbortController();
    this.#abort = abort;
    this.progress = `Reading ${file.name}…`;
    await this.#run(async ({ kb, embedder }) => {
      const text = await this.#deps.readFileText(file, abort.signal);
      const chunks = chunkText(text);
      if (chunks.length === 0) throw new Error(`${file.name} contains no text to learn from.`);
      const vectors: Float32Array[] = [];
      for (let i = 0; i < chunks.length; i += EMBED_BATCH) {
        this.progress = `Embedding ${file.name}: ${i} of ${chunks.length} parts`;
        vectors.push(...(await embedder.embed(chunks.slice(i, i + EMBED_BATCH), { signal: abort.signal })));
      }
      this.progress = `Saving ${file.name}…`;
      await kb.addDocument(
        {
          name: file.name,
          mime: file.type || (file.name.endsWith('.md') ? 'text/markdown' : 'text/plain'),
          bytes: file.size,
          chunks: chunks.map((t, i) => ({ text: t, embedding: vectors[i]! })),
        },
        { now: this.#deps.now, newId: this.#deps.newId },
      );
      return `Added ${file.name} (${chunks.length} ${chunks.length === 1 ? 'part' : 'parts'}).`;
    });
    this.progress = '';
    this.#abort = null;
  }

  cancelDocument(): void {
    this.#abort?.abort();
  }

  async removeDocument(id: string): Promise<void> {
    await this.#run(async ({ kb }) => {
      await kb.deleteDocument(id);
      return 'Document deleted.';
    });
  }

  /**
   * Retrieval for the chat: the question's embedding against everything
   * accepted; `extra` adds what else bears on the question with the same
   * embedding (the network's accepted artifacts), so it is computed once.
   */
  retriever(extra?: ExtraRetrieval): Retriever {
    return {
      retrieve: async (question: string, signal: AbortSignal, contextWindow: number): Promise<RetrievedItem[]> => {
        const kb = this.#deps.knowledge();
        const embedder = this.#deps.embedder();
        // Embedding costs a model call: only when something can be searched.
        const wanted = (kb !== null && kb.size > 0) || (extra?.active() ?? false);
        let vector: ArrayLike<number> | null = null;
        if (embedder && wanted) {
          try {
            [vector = null] = await embedder.embed([question], { signal });
          } catch (err) {
            if (signal.aborted) throw err;
            // Without an embedding, artifacts are still found by words.
            console.warn('Could not embed the question', err);
          }
        }
        const local = kb && vector && kb.size > 0 ? kb.retrieve(vector) : [];
        let network: RetrievedItem[] = [];
        try {
          network = extra?.active() ? extra.retrieve(question, vector, contextWindow) : [];
        } catch (err) {
          console.warn('Could not project the network field; answering without it', err);
        }
        return [...local, ...network];
      },
    };
  }

  async #run(op: (deps: { kb: KnowledgeBase; embedder: TextEmbedder }) => Promise<string>): Promise<void> {
    this.busy = true;
    try {
      this.message = await op(this.#require());
      await this.load();
    } catch (err) {
      this.message = message(err);
    } finally {
      this.busy = false;
    }
  }
}
