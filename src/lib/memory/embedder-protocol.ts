/**
 * The wire protocol between the embedder client (main thread) and the
 * embedder worker: the same envelope as the chat engine's (protocol.ts in
 * src/lib/engine), with its own handler map.
 *
 *   client -> worker   { id, kind: 'embed', params: { model, texts } }
 *                      { id, kind: 'ping', params: null }
 *                      { kind: 'cancel', target }
 *   worker -> client   { id, type: 'progress', progress: LoadProgress }   (first use: model download)
 *                      { id, type: 'return', result: EmbedResult }
 *                      { id, type: 'throw', error: SerializedError }
 *
 * Both ends check every inbound message before acting on it. The vectors
 * come back as one flat Float32Array (row after row) so the worker can
 * transfer its buffer instead of copying a list per text.
 */
import type { LoadProgress, ModelSource } from '../engine/contract';
import { EMBEDDING_DIMENSION } from './types';

/** Most texts in one request: the client splits bigger calls, so a cancel never waits long. */
export const MAX_TEXTS_PER_REQUEST = 64;
/**
 * Longest text sent, characters. The model reads at most 512 word pieces
 * (each at least one character), so a cut here only drops what it would
 * never have seen, yet keeps a pasted book from costing a tokenizer pass.
 */
export const MAX_EMBED_TEXT_CHARS = 8_000;
const MAX_REPO_CHARS = 200;
const MAX_MIRROR_CHARS = 2_048;

export interface EmbedderModel {
  /** Hub repository id; it is also the embedder id stored with each vector. */
  repo: string;
  source: ModelSource;
}

export interface EmbedParams {
  model: EmbedderModel;
  texts: string[];
}

export interface EmbedResult {
  dimension: number;
  count: number;
  /** `count` rows of `dimension` floats, each a unit vector. */
  vectors: Float32Array;
}

export interface EmbedderHandlers {
  embed: { params: EmbedParams; result: EmbedResult; progress: LoadProgress };
  /** Liveness check, answered at once. */
  ping: { params: null; result: null; progress: never };
}

export type EmbedderRequestKind = keyof EmbedderHandlers;

export type EmbedderRequest =
  | { id: number; kind: 'embed'; params: EmbedParams }
  | { id: number; kind: 'ping'; params: null };

export interface EmbedderCancel {
  kind: 'cancel';
  target: number;
}

export type ToEmbedderMessage = EmbedderRequest | EmbedderCancel;

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function isEmbedderModel(v: unknown): v is EmbedderModel {
  return (
    isRecord(v) &&
    typeof v.repo === 'string' &&
    v.repo.length > 0 &&
    v.repo.length <= MAX_REPO_CHARS &&
    isRecord(v.source) &&
    (v.source.mirror === null || (typeof v.source.mirror === 'string' && v.source.mirror.length <= MAX_MIRROR_CHARS))
  );
}

export function isEmbedParams(v: unknown): v is EmbedParams {
  return (
    isRecord(v) &&
    isEmbedderModel(v.model) &&
    Array.isArray(v.texts) &&
    v.texts.length <= MAX_TEXTS_PER_REQUEST &&
    v.texts.every((t) => typeof t === 'string' && t.length <= MAX_EMBED_TEXT_CHARS)
  );
}

/** A well-formed result: the right number of finite floats, in rows of the stored dimension. */
export function isEmbedResult(v: unknown): v is EmbedResult {
  if (!isRecord(v) || !(v.vectors instanceof Float32Array)) return false;
  const { dimension, count, vectors } = v;
  if (dimension !== EMBEDDING_DIMENSION || !isId(count) || vectors.length !== count * EMBEDDING_DIMENSION) return false;
  for (let i = 0; i < vectors.length; i++) if (!Number.isFinite(vectors[i])) return false;
  return true;
}

/** Worker side: a request or a cancel, fully checked; anything else is null (and ignored). */
export function parseToEmbedder(data: unknown): ToEmbedderMessage | null {
  if (!isRecord(data)) return null;
  if (data.kind === 'cancel') return isId(data.target) ? { kind: 'cancel', target: data.target } : null;
  if (!isId(data.id)) return null;
  if (data.kind === 'embed') return isEmbedParams(data.params) ? { id: data.id, kind: 'embed', params: data.params } : null;
  if (data.kind === 'ping') return data.params === null || data.params === undefined ? { id: data.id, kind: 'ping', params: null } : null;
  return null;
}

/** Splits a flat result into one fresh Float32Array per text (fresh: see src/lib/memory/embedding.ts on views). */
export function rowsOf(result: EmbedResult): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let i = 0; i < result.count; i++) {
    rows.push(result.vectors.slice(i * result.dimension, (i + 1) * result.dimension));
  }
  return rows;
}
