/**
 * The `relays` field of the deploy config (/h3lix.config.json): how the app
 * learns the relay addresses from the server that serves it.
 */
import { describe, expect, it } from 'vitest';
import { deployConfigFromEnv } from '../../scripts/deploy-config.mjs';
import { DEFAULT_DEPLOY_CONFIG, loadDeployConfig } from '../../src/services/deploy-config';

const RELAY = '/ip4/127.0.0.1/tcp/4174/ws/p2p/12D3KooWBrRWVu7yAJMvuTijKD6jBDWWVZBnkRef2VEKqjhtJits';

function serve(body: unknown): typeof fetch {
  return (async () => new Response(JSON.stringify(body), { status: 200 })) as typeof fetch;
}

describe('deploy config: relays', () => {
  it('stays null without H3LIX_* variables, so the static file is served', () => {
    expect(deployConfigFromEnv({})).toBeNull();
  });

  it('reads H3LIX_RELAYS as a comma-separated list', () => {
    expect(deployConfigFromEnv({ H3LIX_RELAYS: ` ${RELAY} , /dns4/relay.example.org/tcp/443/wss ,` })).toEqual({
      modelMirror: null,
      defaultModel: null,
      autoLoad: false,
      embedder: null,
      relays: [RELAY, '/dns4/relay.example.org/tcp/443/wss'],
    });
    expect(deployConfigFromEnv({ H3LIX_MODEL_MIRROR: '/models/' })?.relays).toEqual([]);
  });

  it('loads relays in the app, defaulting to none, and drops a malformed list without losing the rest', async () => {
    expect(DEFAULT_DEPLOY_CONFIG.relays).toEqual([]);
    expect((await loadDeployConfig(serve({ modelMirror: '/models/', relays: [RELAY] }))).relays).toEqual([RELAY]);
    expect(await loadDeployConfig(serve({ modelMirror: '/models/' }))).toMatchObject({ modelMirror: '/models/', relays: [] });
    const bad = await loadDeployConfig(serve({ modelMirror: '/models/', relays: ['<script>', 42] }));
    expect(bad).toMatchObject({ modelMirror: '/models/', relays: [] });
  });
});
