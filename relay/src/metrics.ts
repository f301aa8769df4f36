/**
 * Metrics for the relay, in one prom-client registry per relay instance:
 * - libp2p's own metrics, through an implementation of libp2p's `Metrics`
 *   interface (connections, streams, reservations, dial errors, transports);
 * - bytes in and out on the wire, counted where libp2p hands every
 *   connection and protocol stream to `trackMultiaddrConnection` /
 *   `trackProtocolStream`;
 * - the relay's own counters (refusals by reason, circuits, relayed bytes);
 * - Node process metrics (memory, CPU, event loop).
 */
import client from 'prom-client';
import type {
  CalculatedMetricOptions,
  Counter,
  CounterGroup,
  Histogram,
  HistogramGroup,
  HistogramOptions,
  Metric,
  MetricGroup,
  MetricOptions,
  Metrics,
  MultiaddrConnection,
  StopTimer,
  Stream,
  Summary,
  SummaryGroup,
  SummaryOptions,
} from '@libp2p/interface';

export const HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop';
export const STOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/stop';

export type RefusalReason = 'reservation_limit' | 'connection_limit' | 'connection_limit_per_ip';
export const REFUSAL_REASONS: RefusalReason[] = ['reservation_limit', 'connection_limit', 'connection_limit_per_ip'];

type Calc<T> = () => T | Promise<T>;
type Labels = Record<string, number | true | undefined>;

function byteLength(data: { byteLength: number }): number {
  return data.byteLength;
}

/** Relay metrics plus the libp2p `Metrics` implementation feeding the same registry. */
export class RelayMetrics {
  readonly registry = new client.Registry();
  readonly refusals: client.Counter<'reason'>;
  readonly wireBytes: client.Counter<'direction'>;
  readonly relayedBytes: client.Counter;
  readonly circuitsOpened: client.Counter;
  readonly circuitsActive: client.Gauge;
  readonly connectionsOpened: client.Counter;
  private readonly libp2pMetrics = new Map<string, unknown>();

  constructor(gauges: { reservations: () => number; connections: () => number }) {
    client.collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.refusals = new client.Counter({
      name: 'h3lix_relay_refusals_total',
      help: 'Requests the relay refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of REFUSAL_REASONS) this.refusals.inc({ reason }, 0);
    this.wireBytes = new client.Counter({
      name: 'h3lix_relay_bytes_total',
      help: 'Bytes on the wire over all connections (after encryption), by direction',
      labelNames: ['direction'],
      registers,
    });
    this.wireBytes.inc({ direction: 'in' }, 0);
    this.wireBytes.inc({ direction: 'out' }, 0);
    this.relayedBytes = new client.Counter({
      name: 'h3lix_relay_relayed_bytes_total',
      help: 'Bytes received on relay hop/stop streams: relayed circuit payload plus the small relay handshakes',
      registers,
    });
    this.circuitsOpened = new client.Counter({
      name: 'h3lix_relay_circuits_opened_total',
      help: 'Relayed circuits opened (stop streams to a reserved peer)',
      registers,
    });
    this.circuitsActive = new client.Gauge({
      name: 'h3lix_relay_circuits',
      help: 'Relayed circuits open now',
      registers,
    });
    this.connectionsOpened = new client.Counter({
      name: 'h3lix_relay_connections_opened_total',
      help: 'Connections opened since start',
      registers,
    });
    new client.Gauge({
      name: 'h3lix_relay_reservations',
      help: 'Reservations held now',
      registers,
      collect() {
        this.set(gauges.reservations());
      },
    });
    new client.Gauge({
      name: 'h3lix_relay_connections',
      help: 'Connections open now',
      registers,
      collect() {
        this.set(gauges.connections());
      },
    });
  }

  refuse(reason: RefusalReason): void {
    this.refusals.inc({ reason });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The implementation of libp2p's Metrics interface, for `createLibp2p({ metrics })`. */
  forLibp2p(): Metrics {
    return new Libp2pPromMetrics(this);
  }

  /** @internal shared by the libp2p adapter: one metric per name, whoever registers it. */
  once<T>(name: string, make: () => T): T {
    const found = this.libp2pMetrics.get(name);
    if (found !== undefined) return found as T;
    const made = make();
    this.libp2pMetrics.set(name, made);
    return made;
  }
}

/** Counts bytes where data enters (`onData`) and leaves (`sendData`) a message stream. */
function countStreamBytes(stream: object, onIn: (n: number) => void, onOut?: (n: number) => void): void {
  const s = stream as {
    onData?: (data: { byteLength: number }) => void;
    sendData?: (data: { byteLength: number }) => unknown;
  };
  if (typeof s.onData === 'function') {
    const original = s.onData;
    s.onData = function (this: unknown, data) {
      onIn(byteLength(data));
      return original.call(this, data);
    };
  }
  if (onOut !== undefined && typeof s.sendData === 'function') {
    const original = s.sendData;
    s.sendData = function (this: unknown, data) {
      onOut(byteLength(data));
      return original.call(this, data);
    };
  }
}

/** Prometheus names allow [a-zA-Z0-9_:] only. */
function safeName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_:]/g, '_');
}

function labelName(options?: MetricOptions): string {
  return options?.label ?? 'key';
}

function isCalculated<T>(options: unknown): options is { calculate: Calc<T> } {
  return typeof options === 'object' && options !== null && typeof (options as { calculate?: unknown }).calculate === 'function';
}

function groupEntries(values: Labels | Partial<Record<string, number>>): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    out.push([k, typeof v === 'number' ? v : 1]);
  }
  return out;
}

class Libp2pPromMetrics implements Metrics {
  private readonly relay: RelayMetrics;
  constructor(relay: RelayMetrics) {
    this.relay = relay;
  }

  trackMultiaddrConnection(maConn: MultiaddrConnection): void {
    const bytes = this.relay.wireBytes;
    countStreamBytes(
      maConn,
      (n) => bytes.inc({ direction: 'in' }, n),
      (n) => bytes.inc({ direction: 'out' }, n),
    );
  }

  trackProtocolStream(stream: Stream): void {
    if (stream.protocol !== HOP_PROTOCOL && stream.protocol !== STOP_PROTOCOL) return;
    const relayed = this.relay.relayedBytes;
    countStreamBytes(stream, (n) => relayed.inc(n));
    if (stream.protocol === STOP_PROTOCOL && stream.direction === 'outbound') {
      this.relay.circuitsOpened.inc();
      this.relay.circuitsActive.inc();
      stream.addEventListener('close', () => this.relay.circuitsActive.dec(), { once: true });
    }
  }

  registerMetric(name: string, options?: MetricOptions): Metric;
  registerMetric(name: string, options: CalculatedMetricOptions): void;
  registerMetric(name: string, options?: MetricOptions | CalculatedMetricOptions): Metric | undefined {
    name = safeName(name);
    const registers = [this.relay.registry];
    const help = options?.help ?? name;
    if (isCalculated<number>(options)) {
      const calc = options.calculate;
      this.relay.once(name, () => new client.Gauge({ name, help, registers, async collect() { this.set(await calc()); } }));
      return undefined;
    }
    const gauge = this.relay.once(name, () => new client.Gauge({ name, help, registers }));
    return {
      update: (v) => gauge.set(v),
      increment: (v = 1) => gauge.inc(v),
      decrement: (v = 1) => gauge.dec(v),
      reset: () => gauge.set(0),
      timer: (): StopTimer => { const end = gauge.startTimer(); return () => { end(); }; },
    };
  }

  registerMetricGroup(name: string, options?: MetricOptions): MetricGroup;
  registerMetricGroup(name: string, options: CalculatedMetricOptions<Record<string, number>>): void;
  registerMetricGroup(
    name: string,
    options?: MetricOptions | CalculatedMetricOptions<Record<string, number>>,
  ): MetricGroup | undefined {
    name = safeName(name);
    const registers = [this.relay.registry];
    const help = options?.help ?? name;
    const label = labelName(options);
    if (isCalculated<Record<string, number>>(options)) {
      const calc = options.calculate;
      this.relay.once(name, () => new client.Gauge({
        name, help, registers, labelNames: [label],
        async collect() {
          this.reset();
          for (const [k, v] of groupEntries(await calc())) this.set({ [label]: k }, v);
        },
      }));
      return undefined;
    }
    const gauge = this.relay.once(name, () => new client.Gauge({ name, help, registers, labelNames: [label] }));
    return {
      update: (values) => { for (const [k, v] of groupEntries(values)) gauge.set({ [label]: k }, v); },
      increment: (values) => { for (const [k, v] of groupEntries(values)) gauge.inc({ [label]: k }, v); },
      decrement: (values) => { for (const [k, v] of groupEntries(values)) gauge.dec({ [label]: k }, v); },
      reset: () => gauge.reset(),
      timer: (key): StopTimer => { const end = gauge.startTimer({ [label]: key }); return () => { end(); }; },
    };
  }

  registerCounter(name: string, options?: MetricOptions): Counter;
  registerCounter(name: string, options: CalculatedMetricOptions): void;
  registerCounter(name: string, options?: MetricOptions | CalculatedMetricOptions): Counter | undefined {
    name = safeName(name);
    const registers = [this.relay.registry];
    const help = options?.help ?? name;
    if (isCalculated<number>(options)) {
      const calc = options.calculate;
      this.relay.once(name, () => new client.Counter({
        name, help, registers,
        async collect() { this.reset(); this.inc(Math.max(0, await calc())); },
      }));
      return undefined;
    }
    const counter = this.relay.once(name, () => new client.Counter({ name, help, registers }));
    return { increment: (v = 1) => counter.inc(v), reset: () => counter.reset() };
  }

  registerCounterGroup(name: string, options?: MetricOptions): CounterGroup;
  registerCounterGroup(name: string, options: CalculatedMetricOptions<Record<string, number>>): void;
  registerCounterGroup(
    name: string,
    options?: MetricOptions | CalculatedMetricOptions<Record<string, number>>,
  ): CounterGroup | undefined {
    name = safeName(name);
    const registers = [this.relay.registry];
    const help = options?.help ?? name;
    const label = labelName(options);
    if (isCalculated<Record<string, number>>(options)) {
      const calc = options.calculate;
      this.relay.once(name, () => new client.Counter({
        name, help, registers, labelNames: [label],
        async collect() {
          this.reset();
          for (const [k, v] of groupEntries(await calc())) this.inc({ [label]: k }, Math.max(0, v));
        },
      }));
      return undefined;
    }
    const counter = this.relay.once(name, () => new client.Counter({ name, help, registers, labelNames: [label] }));
    return {
      increment: (values) => { for (const [k, v] of groupEntries(values)) counter.inc({ [label]: k }, v); },
      reset: () => counter.reset(),
    };
  }

  registerHistogram(name: string, options?: HistogramOptions): Histogram;
  registerHistogram(name: string, options: HistogramOptions & { calculate: Calc<number> }): void;
  registerHistogram(name: string, options?: HistogramOptions & { calculate?: Calc<number> }): Histogram | undefined {
    name = safeName(name);
    const registers = [this.relay.registry];
    const help = options?.help ?? name;
    const buckets = options?.buckets;
    if (isCalculated<number>(options)) {
      const calc = options.calculate;
      this.relay.once(name, () => new client.Histogram({
        name, help, registers, ...(buckets ? { buckets } : {}),
        async collect() { this.observe(await calc()); },
      }));
      return undefined;
    }
    const h = this.relay.once(name, () => new client.Histogram({ name, help, registers, ...(buckets ? { buckets } : {}) }));
    return {
      observe: (v) => h.observe(v),
      reset: () => h.reset(),
      timer: (): StopTimer => { const end = h.startTimer(); return () => { end(); }; },
    };
  }

  registerHistogramGroup(name: string, options?: HistogramOptions): HistogramGroup;
  registerHistogramGroup(name: string, options: HistogramOptions & { calculate: Calc<Record<string, number>> }): void;
  registerHistogramGroup(
    name: string,
    options?: HistogramOptions & { calculate?: Calc<Record<string, number>> },
  ): HistogramGroup | undefined {
    name = safeName(name);
    const registers = [this.relay.registry];
    const help = options?.help ?? name;
    const label = labelName(options);
    const buckets = options?.buckets;
    if (isCalculated<Record<string, number>>(options)) {
      const calc = options.calculate;
      this.relay.once(name, () => new client.Histogram({
        name, help, registers, labelNames: [label], ...(buckets ? { buckets } : {}),
        async collect() { for (const [k, v] of groupEntries(await calc())) this.observe({ [label]: k }, v); },
      }));
      return undefined;
    }
    const h = this.relay.once(name, () => new client.Histogram({ name, help, registers, labelNames: [label], ...(buckets ? { buckets } : {}) }));
    return {
      observe: (values) => { for (const [k, v] of groupEntries(values)) h.observe({ [label]: k }, v); },
      reset: () => h.reset(),
      timer: (key): StopTimer => { const end = h.startTimer({ [label]: key }); return () => { end(); }; },
    };
  }

  registerSummary(name: string, options?: SummaryOptions): Summary;
  registerSummary(name: string, options: SummaryOptions & { calculate: Calc<number> }): void;
  registerSummary(name: string, options?: SummaryOptions & { calculate?: Calc<number> }): Summary | undefined {
    name = safeName(name);
    const registers = [this.relay.registry];
    const help = options?.help ?? name;
    const percentiles = options?.percentiles;
    if (isCalculated<number>(options)) {
      const calc = options.calculate;
      this.relay.once(name, () => new client.Summary({
        name, help, registers, ...(percentiles ? { percentiles } : {}),
        async collect() { this.observe(await calc()); },
      }));
      return undefined;
    }
    const s = this.relay.once(name, () => new client.Summary({ name, help, registers, ...(percentiles ? { percentiles } : {}) }));
    return {
      observe: (v) => s.observe(v),
      reset: () => s.reset(),
      timer: (): StopTimer => { const end = s.startTimer(); return () => { end(); }; },
    };
  }

  registerSummaryGroup(name: string, options?: SummaryOptions): SummaryGroup;
  registerSummaryGroup(name: string, options: SummaryOptions & { calculate: Calc<Record<string, number>> }): void;
  registerSummaryGroup(
    name: string,
    options?: SummaryOptions & { calculate?: Calc<Record<string, number>> },
  ): SummaryGroup | undefined {
    name = safeName(name);
    const registers = [this.relay.registry];
    const help = options?.help ?? name;
    const label = labelName(options);
    const percentiles = options?.percentiles;
    if (isCalculated<Record<string, number>>(options)) {
      const calc = options.calculate;
      this.relay.once(name, () => new client.Summary({
        name, help, registers, labelNames: [label], ...(percentiles ? { percentiles } : {}),
        async collect() { for (const [k, v] of groupEntries(await calc())) this.observe({ [label]: k }, v); },
      }));
      return undefined;
    }
    const s = this.relay.once(name, () => new client.Summary({ name, help, registers, labelNames: [label], ...(percentiles ? { percentiles } : {}) }));
    return {
      observe: (values) => { for (const [k, v] of groupEntries(values)) s.observe({ [label]: k }, v); },
      reset: () => s.reset(),
      timer: (key): StopTimer => { const end = s.startTimer({ [label]: key }); return () => { end(); }; },
    };
  }

  // Tracing is not collected: the wrapped function is returned unchanged.
  traceFunction<F>(_name: string, fn: F): F {
    return fn;
  }

  createTrace(): undefined {
    return undefined;
  }
}
