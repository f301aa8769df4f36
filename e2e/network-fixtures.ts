/**
 * Helpers for the multi-browser network tests: separate Chromium processes
 * against the test server (app + relay), the Network view, invites; and
 * members that are Node processes running the app's own NetworkService
 * (test doubles of other people's devices: real protocol, real transport,
 * fake-indexeddb storage).
 */
import { chromium, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { CHROMIUM } from '../playwright.config';
import { openReady } from './fixtures';
import { openDatabase, type H3lixDatabase } from '../src/services/db';
import { loadOrCreateIdentity } from '../src/services/identity';
import { NetworkService } from '../src/services/network';
import type { VerifiedItem } from '../src/lib/network/signed-item';

export const BASE = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 4319)}`;

export interface BrowserMember {
  browser: Browser;
  context: BrowserContext;
  page: Page;
}

export async function launch(): Promise<BrowserMember> {
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  const context = await browser.newContext({ baseURL: BASE });
  const page = await context.newPage();
  await openReady(page);
  return { browser, context, page };
}

export async function openNetwork(page: Page) {
  const dialog = page.getByRole('dialog', { name: 'Network' });
  if (!(await dialog.isVisible())) await page.getByRole('button', { name: 'Network', exact: true }).click();
  return dialog;
}

export async function closeNetwork(page: Page) {
  await page.getByRole('button', { name: 'Close network' }).click();
}

/** Creates the network on `page` and returns its invite link. */
export async function createInvite(page: Page, networkName: string): Promise<string> {
  const dialog = await openNetwork(page);
  await dialog.getByRole('textbox', { name: 'Network name' }).fill(networkName);
  await dialog.getByRole('button', { name: 'Create invite link' }).click();
  const linkBox = dialog.getByRole('textbox', { name: 'Your invite link' });
  await expect(linkBox).toHaveValue(/#join=/);
  const link = await linkBox.inputValue();
  await closeNetwork(page);
  return link;
}

/** Pastes the link into the Network view and confirms. */
export async function joinByPaste(page: Page, link: string): Promise<void> {
  const dialog = await openNetwork(page);
  await dialog.getByRole('textbox', { name: 'Invite link' }).fill(link);
  await dialog.getByRole('button', { name: 'Join network' }).click();
  await dialog.getByRole('button', { name: 'Confirm join' }).click();
  await expect(dialog.getByRole('status')).toContainText('Joined');
  await closeNetwork(page);
}

/** Sets the name this browser's person goes by (members see it). */
export async function setName(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'Settings' }).click();
  const settings = page.getByRole('dialog', { name: 'Settings' });
  await settings.getByRole('textbox', { name: 'Your name' }).fill(name);
  await settings.getByRole('button', { name: 'Save profile' }).click();
  await expect(settings.getByRole('status').filter({ hasText: 'Profile saved' })).toBeVisible();
  await page.keyboard.press('Escape');
}

/** Fast transport timings for Node members on loopback. */
const FAST = {
  rtcConfiguration: { iceServers: [] },
  timing: { announceIntervalMs: 1_000, pingIntervalMs: 2_000, tickMs: 250, dialTimeoutMs: 5_000, directRetryMs: 3_000, reservationGraceMs: 3_000, maxPingFailures: 3 },
  reconnect: { initialMs: 200, maxMs: 2_000, factor: 2, jitter: 0.5 },
};

export interface NodeMember {
  name: string;
  nodeId: string;
  db: H3lixDatabase;
  net: NetworkService;
}

/** A member running in this Node process with the app's own network code; joins by the invite link. */
export async function nodeMember(name: string, link: string): Promise<NodeMember> {
  const db = await openDatabase(`e2e-${name}-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  const identity = await loadOrCreateIdentity(db, Date.now);
  const net = new NetworkService({
    db: () => db,
    identity: async () => identity,
    displayName: () => name,
    now: Date.now,
    defaultRelays: () => [],
    onChange: () => {},
    allowLoopback: true,
    nodeOptions: FAST,
  });
  const read = await net.readInvite(link);
  if (!read.ok) throw new Error(`${name} could not read the invite: ${read.message}`);
  await net.join(read.invite);
  return { name, nodeId: identity.nodeId, db, net };
}

/** Waits until a Node member holds an artifact whose text contains `text`. */
export async function waitForArtifact(member: NodeMember, text: string, timeoutMs = 90_000): Promise<VerifiedItem & { kind: 'artifact' }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = (await member.net.heldItems()).find((i): i is VerifiedItem & { kind: 'artifact' } => i.kind === 'artifact' && i.artifact.text.includes(text));
    if (found) return found;
    if (Date.now() > until) throw new Error(`${member.name} did not receive the artifact "${text}"`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
