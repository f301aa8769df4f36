/**
 * The network in the app: membership (create, invite, join, leave, rotate),
 * the transport's live state for the Network view, and invite links opened
 * from the address bar. Joining always asks: an invite is shown (who invites
 * to what, until when) and only the person's confirmation joins.
 */
import QRCode from 'qrcode';
import type { Invite } from '../lib/network/invite';
import { formatFingerprint } from '../lib/governance/identity';
import type { Artifact } from '../lib/artifacts/schema';
import type { NetworkService, NetworkSnapshot } from '../services/network';
import type { BackgroundCapabilities, BackgroundSync, DeliveryPath } from '../services/background-sync';
import { coalesce } from './coalesce';

export interface JoinCandidate {
  invite: Invite;
  inviterName: string;
  inviterFingerprint: string;
  networkName: string;
  expiresAt: number;
}

/** How often the view re-reads the transport while it changes (peers, traffic). */
const REFRESH_MS = 500;

export class NetworkState {
  snapshot = $state.raw<NetworkSnapshot | null>(null);
  inviteUrl = $state<string | null>(null);
  inviteQr = $state<string | null>(null);
  candidate = $state.raw<JoinCandidate | null>(null);
  message = $state('');
  busy = $state(false);
  /** An invite link was opened: the Network view should show it. */
  wantsAttention = $state(false);
  /** How queued items left, and what the browser offers for background delivery (null without a service worker bridge). */
  background = $state.raw<{ deliveredBy: Readonly<Record<DeliveryPath, number>>; capabilities: BackgroundCapabilities } | null>(null);
  /** The service worker bridge for the outbox (set by the app where a service worker exists). */
  backgroundSync: BackgroundSync | null = null;

  #service: NetworkService;
  #appUrl: () => string;
  /** Called after joining or creating a network (lessons waiting to be shared go out). */
  onMember: () => Promise<unknown> = async () => {};
  #refreshSoon = coalesce(() => void this.refresh(), REFRESH_MS);

  constructor(service: NetworkService, appUrl: () => string) {
    this.#service = service;
    this.#appUrl = appUrl;
  }

  get member(): boolean {
    return this.snapshot?.membership != null;
  }

  /** Restores the membership and reconnects (the person joined before). */
  async load(): Promise<void> {
    const membership = await this.#service.load();
    await this.refresh();
    if (membership) {
      try {
        await this.#service.start();
      } catch (err) {
        this.message = `Could not reconnect to the network: ${describe(err)}`;
      }
      await this.refresh();
    }
  }

  /** The service changed: re-read soon (coalesced). */
  changed(): void {
    this.#refreshSoon.schedule();
  }

  async refresh(): Promise<void> {
    try {
      this.snapshot = await this.#service.snapshot();
      const bg = this.backgroundSync;
      if (bg) {
        // Items waiting (a share while offline, one left from before a reload) arm the background path.
        void bg.outboxChanged(this.snapshot.outbox);
        this.background = { deliveredBy: { ...bg.deliveredBy }, capabilities: bg.capabilities() };
      }
    } catch (err) {
      console.warn('Could not read the network state', err);
    }
  }

  /** A link for someone to join; creates the network first when this device is in none. */
  async createInvite(networkName: string, relay = ''): Promise<void> {
    await this.#busy(async () => {
      if (!this.#service.membership) {
        await this.#service.create(networkName, relay.trim() ? [relay] : []);
        void this.onMember();
      }
      const url = await this.#service.inviteLink(this.#appUrl());
      this.inviteUrl = url;
      this.inviteQr = await QRCode.toDataURL(url, { errorCorrectionLevel: 'M', margin: 1, width: 240 });
      return 'Invite link created. Anyone with it can join this network until it expires: share it only with people you trust.';
    });
  }

  /** Reads an invite (pasted or opened); joins nothing until confirmJoin. */
  async readInvite(link: string): Promise<boolean> {
    const text = link.trim();
    if (!text) {
      this.message = 'Paste an invite link first.';
      return false;
    }
    const result = await this.#service.readInvite(text);
    if (!result.ok) {
      this.candidate = null;
      this.message = `This invite cannot be used: ${result.message}`;
      return false;
    }
    const { invite } = result;
    this.candidate = {
      invite,
      inviterName: invite.inviter.displayName ?? 'Someone',
      inviterFingerprint: formatFingerprint(invite.inviter.nodeId),
      networkName: invite.networkName ?? 'a network',
      expiresAt: invite.expiresAt,
    };
    this.message = '';
    return true;
  }

  /** An invite link opened in the address bar. */
  async openFromLocation(href: string): Promise<void> {
    if (!/#join=/.test(href)) return;
    this.wantsAttention = true;
    await this.readInvite(href);
  }

  async confirmJoin(): Promise<void> {
    const candidate = this.candidate;
    if (!candidate) return;
    await this.#busy(async () => {
      await this.#service.join(candidate.invite);
      void this.onMember();
      this.candidate = null;
      this.inviteUrl = null;
      this.inviteQr = null;
      return `Joined ${candidate.networkName}. Connecting to its members…`;
    });
  }

  cancelJoin(): void {
    this.candidate = null;
    this.message = 'Not joined.';
  }

  async leave(): Promise<void> {
    await this.#busy(async () => {
      await this.#service.leave();
      this.inviteUrl = null;
      this.inviteQr = null;
      return 'You left the network. Your lessons and what you received stay on this device.';
    });
  }

  async rotateKey(): Promise<void> {
    await this.#busy(() => this.#service.rotateKey());
  }

  /** Hands a shared artifact to the network; null when this device is in no network. */
  async share(artifact: Artifact): Promise<{ sent: boolean } | null> {
    if (!this.#service.membership) return null;
    const result = await this.#service.shareArtifact(artifact);
    if (result.sent) this.backgroundSync?.recordDirect(1);
    void this.refresh();
    return { sent: result.sent };
  }

  async #busy(op: () => Promise<string>): Promise<void> {
    this.busy = true;
    try {
      this.message = await op();
    } catch (err) {
      this.message = describe(err);
    } finally {
      this.busy = false;
      await this.refresh();
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
