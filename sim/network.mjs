// The in-process network: carries the same messages the real protocol
// carries (artifacts and votes, already attributed: signing and encryption
// are the transport's), to every node, each copy with its own latency of
// 1..MAX_LATENCY_TICKS ticks (two ticks per round), so nodes see messages in
// different orders and at different times, as over gossip.
export const MAX_LATENCY_TICKS = 3;

export class Network {
  constructor(random) {
    this.random = random;
    this.queue = new Map(); // tick -> [[receiverIndex, message]]
    this.sent = 0;
  }

  /** Sends `message` at `tick` to every receiver index in `to`. */
  broadcast(tick, message, to) {
    this.sent++;
    for (const r of to) {
      const at = tick + 1 + Math.floor(this.random() * MAX_LATENCY_TICKS);
      let list = this.queue.get(at);
      if (!list) this.queue.set(at, (list = []));
      list.push([r, message]);
    }
  }

  /** Messages due at `tick`, removed from the queue. */
  due(tick) {
    const list = this.queue.get(tick) ?? [];
    this.queue.delete(tick);
    return list;
  }
}
