/**
 * The Collective Context Field in the app: what the Field view shows and
 * the person's actions on it (vote, veto, vouch, quarantine, release).
 * Every outcome is reported in `message`; nothing here throws at the view.
 */
import type { ContentId } from '../lib/artifacts/schema';
import type { NodeId, VoteValue } from '../lib/ccf/vote';
import type { FieldService } from '../services/field-service';
import type { FieldActions, FieldSnapshot } from './field-view';
import { coalesce } from './coalesce';

/** Re-read the field at most this often while it changes. */
const REFRESH_MS = 500;

const VOTE_DONE: Record<VoteValue, string> = {
  endorse: 'You endorsed this artifact. Your vote goes to the network.',
  reject: 'You rejected this artifact. Your vote goes to the network.',
  veto: 'You vetoed this artifact: it is never used here, and the network counts your veto as a rejection.',
};

export class FieldState implements FieldActions {
  snapshot = $state.raw<FieldSnapshot | null>(null);
  message = $state('');
  busy = $state(false);

  #service: FieldService;
  #refreshSoon = coalesce(() => void this.refresh(), REFRESH_MS);

  constructor(service: FieldService) {
    this.#service = service;
  }

  /** The service changed: re-read soon (coalesced). */
  changed(): void {
    this.#refreshSoon.schedule();
  }

  async reload(): Promise<void> {
    try {
      await this.#service.reload();
    } catch (err) {
      this.message = `The field could not be read: ${err instanceof Error ? err.message : String(err)}`;
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      await this.#service.load();
      this.snapshot = this.#service.snapshot();
    } catch (err) {
      console.warn('Could not read the field', err);
    }
  }

  vote(artifactId: ContentId, value: VoteValue): Promise<void> {
    return this.#busy(async () => {
      await this.#service.vote(artifactId, value, 'person');
      return VOTE_DONE[value];
    });
  }

  vouch(node: NodeId): Promise<void> {
    return this.#busy(async () => {
      await this.#service.vouch(node);
      return `You vouched for ${this.#label(node)}: their votes count here from now on.`;
    });
  }

  withdrawVouch(node: NodeId): Promise<void> {
    return this.#busy(async () => {
      await this.#service.withdrawVouch(node);
      return `You withdrew your vouch for ${this.#label(node)}.`;
    });
  }

  quarantine(node: NodeId): Promise<void> {
    return this.#busy(async () => {
      await this.#service.quarantine(node);
      return `${this.#label(node)} is quarantined: their artifacts and votes are ignored here until you release them.`;
    });
  }

  release(node: NodeId): Promise<void> {
    return this.#busy(async () => {
      await this.#service.release(node);
      return `${this.#label(node)} is released: their artifacts and votes count again.`;
    });
  }

  #label(node: NodeId): string {
    return this.snapshot?.peers.find((p) => p.nodeId === node)?.displayName ?? `member ${node.slice(0, 8)}`;
  }

  async #busy(op: () => Promise<string>): Promise<void> {
    this.busy = true;
    try {
      this.message = await op();
    } catch (err) {
      this.message = err instanceof Error ? err.message : String(err);
    } finally {
      this.busy = false;
      await this.refresh();
    }
  }
}
