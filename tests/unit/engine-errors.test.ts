import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  ENGINE_ERROR_NAMES,
  EngineError,
  EngineNotReadyError,
  GPUDeviceLostError,
  ModelFilesMissingError,
  ModelUnavailableError,
  NetworkError,
  OutOfMemoryError,
  SelfTestFailedError,
  ShaderF16UnsupportedError,
  StorageQuotaError,
  WebGPUUnavailableError,
  WorkerCrashedError,
  classifyError,
  deserializeError,
  isSerializedError,
  serializeError,
} from '../../src/lib/engine/errors';

const CLASSES = [
  EngineError,
  WebGPUUnavailableError,
  ShaderF16UnsupportedError,
  GPUDeviceLostError,
  OutOfMemoryError,
  StorageQuotaError,
  ModelFilesMissingError,
  ModelUnavailableError,
  NetworkError,
  WorkerCrashedError,
  EngineNotReadyError,
  SelfTestFailedError,
  AbortedError,
];

describe('engine errors', () => {
  it.each(CLASSES.map((C) => [C.name, C] as const))('%s has a name, a message and a hint', (_, C) => {
    const e = new C();
    expect(e).toBeInstanceOf(EngineError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe(C.name);
    expect(e.message.length).toBeGreaterThan(5);
    expect(e.hint.length).toBeGreaterThan(5);
    expect(e.hint).not.toBe(e.message);
  });

  it('knows every class by name', () => {
    expect([...ENGINE_ERROR_NAMES].sort()).toEqual(CLASSES.map((C) => C.name).sort());
  });

  it.each(CLASSES.map((C) => [C.name, C] as const))('%s survives serialise -> structuredClone -> deserialise', (_, C) => {
    const original = new C('Something specific happened.', { hint: 'Do this specific thing.', cause: new TypeError('raw') });
    const wire = structuredClone(serializeError(original));
    expect(isSerializedError(wire)).toBe(true);
    const back = deserializeError(wire);
    expect(back).toBeInstanceOf(C);
    expect(back.name).toBe(C.name);
    expect(back.message).toBe('Something specific happened.');
    expect(back.hint).toBe('Do this specific thing.');
    expect(back.detail).toBe('TypeError: raw');
  });

  it('deserialises an unknown name as a plain EngineError with the same text', () => {
    const back = deserializeError({ name: 'SomethingElseError', message: 'odd', hint: 'h' });
    expect(back.constructor).toBe(EngineError);
    expect(back.name).toBe('EngineError');
    expect(back.message).toBe('odd');
    expect(back.hint).toBe('h');
  });

  it('does not resolve names through the prototype chain', () => {
    expect(deserializeError({ name: 'toString', message: 'm', hint: 'h' }).constructor).toBe(EngineError);
    expect(deserializeError({ name: '__proto__', message: 'm', hint: 'h' }).constructor).toBe(EngineError);
  });

  it('serialises raw errors after classifying them', () => {
    const s = serializeError(new TypeError('Failed to fetch'));
    expect(s.name).toBe('NetworkError');
    expect(s.detail).toBe('TypeError: Failed to fetch');
    expect(serializeError('just a string').name).toBe('EngineError');
  });

  it('rejects malformed serialised errors', () => {
    expect(isSerializedError(null)).toBe(false);
    expect(isSerializedError({ name: 'X', message: 'm' })).toBe(false);
    expect(isSerializedError({ name: 'X', message: 'm', hint: 3 })).toBe(false);
    expect(isSerializedError({ name: 'X', message: 'm', hint: 'h', detail: 1 })).toBe(false);
  });
});

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

describe('classifyError', () => {
  const table: Array<[string, unknown, new () => EngineError]> = [
    ['AbortError (DOMException-like)', named('AbortError', 'The operation was aborted.'), AbortedError],
    ['QuotaExceededError', named('QuotaExceededError', 'The quota has been exceeded.'), StorageQuotaError],
    ['quota text', new Error('Failed to execute put on Cache: Quota exceeded.'), StorageQuotaError],
    [
      'transformers ModelFileNotFoundError',
      named('ModelFileNotFoundError', 'Could not locate file: "https://hf.co/x/resolve/main/config.json".'),
      ModelFilesMissingError,
    ],
    ['Could not locate file', new Error('Could not locate file: "/models/a/config.json".'), ModelFilesMissingError],
    ['404 text', new Error('Error (404) occurred while trying to load file'), ModelFilesMissingError],
    [
      'an HTML page where JSON was expected (SPA fallback on the mirror)',
      new SyntaxError('Unexpected token \'<\', "<!doctype "... is not valid JSON'),
      ModelFilesMissingError,
    ],
    ['Failed to fetch online', new TypeError('Failed to fetch'), NetworkError],
    ['Node fetch failed', new TypeError('fetch failed'), NetworkError],
    ['WebLLM DeviceLostError', named('DeviceLostError', 'The WebGPU device was lost while loading the model.'), GPUDeviceLostError],
    ['device lost text', new Error('GPU device was lost: destroyed'), GPUDeviceLostError],
    ['out of memory', new Error('Out of memory: Cannot allocate Wasm memory for new instance'), OutOfMemoryError],
    ['Array buffer allocation failed', new RangeError('Array buffer allocation failed'), OutOfMemoryError],
    ['bad_alloc', new Error('std::bad_alloc'), OutOfMemoryError],
    ['WebLLM ShaderF16SupportError', named('ShaderF16SupportError', 'This model requires WebGPU extension shader-f16'), ShaderF16UnsupportedError],
    ['WebLLM WebGPUNotAvailableError', named('WebGPUNotAvailableError', 'WebGPU is not supported'), WebGPUUnavailableError],
    ['WebLLM ModelNotFoundError', named('ModelNotFoundError', 'Cannot find model record in appConfig for x'), ModelUnavailableError],
  ];

  it.each(table)('%s', (_, raw, Expected) => {
    const e = classifyError(raw);
    expect(e).toBeInstanceOf(Expected);
    expect(e.detail).toContain(raw instanceof Error ? raw.message : '');
  });

  it('maps a failed fetch while offline to missing files (nothing is cached)', () => {
    expect(classifyError(new TypeError('Failed to fetch'), { offline: true })).toBeInstanceOf(ModelFilesMissingError);
  });

  it('passes EngineErrors through unchanged', () => {
    const e = new SelfTestFailedError();
    expect(classifyError(e)).toBe(e);
  });

  it('keeps the message of unrecognised errors', () => {
    const e = classifyError(new Error('Something odd in the tokenizer'));
    expect(e.constructor).toBe(EngineError);
    expect(e.message).toBe('Something odd in the tokenizer');
  });

  it('handles thrown non-errors', () => {
    expect(classifyError('boom').message).toBe('boom');
    expect(classifyError(undefined)).toBeInstanceOf(EngineError);
    expect(classifyError({ name: 'QuotaExceededError' })).toBeInstanceOf(StorageQuotaError);
  });

  it('explains an ONNX Runtime that could not load its WASM', () => {
    const e = classifyError(new Error('no available backend found. ERR: [wasm] TypeError: Failed to fetch dynamically imported module'));
    expect(e.message).toMatch(/WASM runtime/);
    expect(e.hint).toMatch(/online/);
  });
});
