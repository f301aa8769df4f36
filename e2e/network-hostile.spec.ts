/**
 * A hostile peer against two real browsers and the real relay. The attacker
 * is a Node process speaking the protocol with the real transport: it holds
 * the invite link (an invited member gone bad) and also poses as a stranger.
 * It sends forged signatures, envelopes under the wrong network key, a
 * captured message replayed long after, malformed and oversize messages, and
 * a flood. Every one is dropped and counted by reason in the Network view;
 * honest traffic still flows and the app stays responsive.
 */
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CHROMIUM } from '../playwright.config';
import { log, openReady, sendMessage, shareLesson, waitForReply } from './fixtures';
import { createP2PNode } from '../src/services/p2p/index.ts';
import { parseInviteUrl } from '../src/lib/network/invite';
import { sealEnvelope } from '../src/lib/network/envelope';
import { createNetworkKey, deriveEnvelopeKey } from '../src/lib/network/network-key';
import { signArtifact } from '../src/lib/network/signed-item';
import { nodeIdOf, type SigningIdentity } from '../src/lib/network/signing';
import { topicForType } from '../src/lib/network/topics';
import { testArtifact as artifact } from '../tests/unit/test-artifact';

const BASE = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 4319)}`;
const randomBytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
/** A random lowercase word: numbers in the text would read as private data and be filtered. */
const word = () => Array.from(randomBytes(8), (b) => String.fromCharCode(97 + (b % 26))).join('');

function identity(): SigningIdentity {
  const secret = ed25519.utils.randomSecretKey();
  const publicKey = ed25519.getPublicKey(secret);
  return { nodeId: nodeIdOf(publicKey), publicKey, sign: async (bytes) => ed25519.sign(bytes, secret) };
}


async function launch(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  const page = await (await browser.newContext({ baseURL: BASE })).newPage();
  await openReady(page);
  return { browser, page };
}

async function dropped(page: Page, reason: string): Promise<number> {
  const row = page.getByRole('dialog', { name: 'Network' }).getByRole('row').filter({ has: page.getByRole('cell', { name: reason, exact: true }) });
  return Number(await row.getByRole('cell').nth(1).innerText());
}

test('a hostile peer is dropped and counted by reason; honest traffic flows and the app stays responsive', async () => {
  test.setTimeout(300_000);
  const [a, b] = await Promise.all([launch(), launch()]);
  const hostile = { node: null as ReturnType<typeof createP2PNode> | null };
  try {
    await a.page.getByRole('button', { name: 'Network', exact: true }).click();
    const na = a.page.getByRole('dialog', { name: 'Network' });
    await na.getByRole('button', { name: 'Create invite link' }).click();
    const link = await na.getByRole('textbox', { name: 'Your invite link' }).inputValue();
    await b.page.goto(link);
    await b.page.getByRole('button', { name: 'Confirm join' }).click();
    await expect(na.getByRole('region', { name: 'Peers' }).getByRole('listitem')).toHaveCount(1, { timeout: 90_000 });

    // The attacker: the invite's key and relays, its own identity, the real transport.
    const parsed = await parseInviteUrl(link, Date.now());
    if (!parsed.ok) throw new Error(parsed.message);
    const invite = parsed.invite;
    const topic = topicForType(invite.networkId, 'artifact');
    const node = createP2PNode({
      relays: invite.relays,
      topics: [topic],
      discovery: { topic: `h3lix/${'0'.repeat(32)}/v1/discovery` },
      allowLoopback: true,
      rtcConfiguration: { iceServers: [] },
      // It may send what honest nodes refuse.
      limits: { maxMessageBytes: 1024 * 1024 },
    });
    hostile.node = node;
    await node.start();
    node.dialPeer(invite.inviter.peerId!);
    await expect.poll(() => node.subscribers(topic).includes(invite.inviter.peerId!), { timeout: 60_000 }).toBe(true);

    const me = identity();
    const goodKey = await deriveEnvelopeKey(crypto.subtle, invite.networkKey, invite.networkId, invite.epoch);
    const wrongKey = await deriveEnvelopeKey(crypto.subtle, createNetworkKey(randomBytes), invite.networkId, invite.epoch);
    const seal = async (key: CryptoKey, now = Date.now) => {
      const signed = await signArtifact(invite.networkId, artifact(`When checking a sum, add the digits again in reverse order, variant ${word()}`), me);
      return sealEnvelope({ type: 'artifact', item: signed.item as never }, { networkId: invite.networkId, epoch: invite.epoch, key, identity: me, now, randomBytes, subtle: crypto.subtle });
    };
    const send = (bytes: Uint8Array) => node.publish(topic, bytes).catch(() => ({ recipients: 0 }));

    const view = a.page.getByRole('dialog', { name: 'Network' });
    await expect(view.getByRole('heading', { name: 'Dropped messages' })).toBeVisible();
    const enc = (text: string) => new TextEncoder().encode(text);
    // Gossip is at-most-once and a link may be changing under it: each attack is sent (fresh bytes
    // each time, as identical bytes are one gossip message) until the member has counted it.
    const attack = async (reason: string, make: () => Promise<Uint8Array>) => {
      await expect
        .poll(
          async () => {
            await send(await make());
            await a.page.waitForTimeout(500);
            return dropped(a.page, reason);
          },
          { message: `dropped as ${reason}`, timeout: 60_000 },
        )
        .toBeGreaterThan(0);
    };
    // Forged signature: a valid envelope with its signature's last characters changed.
    await attack('bad-signature', async () => {
      const forged = JSON.parse(new TextDecoder().decode(await seal(goodKey)));
      forged.sig = forged.sig.slice(0, -4) + (forged.sig.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      return enc(JSON.stringify(forged));
    });
    // A stranger's envelope under the wrong network key.
    await attack('decrypt-failed', () => seal(wrongKey));
    // A message captured earlier and replayed 20 minutes later.
    await attack('stale', () => seal(goodKey, () => Date.now() - 20 * 60_000));
    // Malformed, oversize for the protocol, oversize for the transport.
    await attack('malformed', async () => enc(`{"v":1,"this is":"not an envelope","n":"${word()}"}`));
    await attack('oversize', async () => enc(`{"pad":"${word()}${'x'.repeat(150_000)}"}`));
    await attack('transport: oversize', async () => {
      const big = new Uint8Array(300 * 1024).fill(65);
      big.set(enc(word()));
      return big;
    });
    // A flood of well-formed messages from one member.
    await attack('rate-limited', async () => {
      await Promise.all(Array.from({ length: 119 }, async () => send(await seal(goodKey))));
      return seal(goodKey);
    });
    // The flood was cut: far fewer than 120 of its messages were kept.
    const held = Number(/Artifacts held: (\d+)/.exec(await view.getByLabel('Items held').innerText())?.[1]);
    expect(held).toBeLessThan(100);
    await a.page.getByRole('button', { name: 'Close network' }).click();

    // The app stays responsive and honest traffic still flows: A chats, and B's artifact count grows when A shares.
    await sendMessage(a.page, 'Still there?');
    await waitForReply(a.page);
    await expect(log(a.page).getByRole('article', { name: 'Assistant' }).last()).not.toBeEmpty();
    const nb = b.page.getByRole('dialog', { name: 'Network' });
    const before = Number(/Artifacts held: (\d+)/.exec(await nb.getByLabel('Items held').innerText())?.[1]);
    await b.page.getByRole('button', { name: 'Close network' }).click();
    await shareLesson(a.page, 'What is 12 * 12?', '144', 'When squaring a two-digit number, split it into tens and units and add twice their product');
    await b.page.getByRole('button', { name: 'Network', exact: true }).click();
    await expect(nb.getByLabel('Items held')).toContainText(`Artifacts held: ${before + 1}`, { timeout: 60_000 });
  } finally {
    await hostile.node?.stop().catch(() => undefined);
    await Promise.all([a.browser.close(), b.browser.close()]);
  }
});
