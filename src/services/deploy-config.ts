/**
 * The deploy config (`/h3lix.config.json`): what the people running this
 * server chose for everyone (a model mirror, a default model, auto-loading).
 * A missing or broken file means the defaults, never a broken app.
 */
import { z } from 'zod';

const DeployConfigSchema = z.object({
  modelMirror: z.string().max(2048).nullable().default(null),
  defaultModel: z.string().max(200).nullable().default(null),
  autoLoad: z.boolean().default(false),
  /** Embedding model for memory and documents; null: the real all-MiniLM-L6-v2. */
  embedder: z.string().max(200).nullable().default(null),
  /**
   * Relay multiaddrs for the network (e.g. /ip4/127.0.0.1/tcp/4174/ws/p2p/…); empty: none configured.
   * A malformed list is dropped on its own, so it cannot take the rest of the config down with it.
   */
  relays: z.array(z.string().max(1024).regex(/^\/\S+$/)).max(16).catch([]),
});

export type DeployConfig = z.infer<typeof DeployConfigSchema>;

export const DEFAULT_DEPLOY_CONFIG: DeployConfig = {
  modelMirror: null,
  defaultModel: null,
  autoLoad: false,
  embedder: null,
  relays: [],
};

export async function loadDeployConfig(fetcher: typeof fetch = fetch): Promise<DeployConfig> {
  try {
    const res = await fetcher('/h3lix.config.json', { cache: 'no-cache' });
    if (!res.ok) return DEFAULT_DEPLOY_CONFIG;
    const parsed = DeployConfigSchema.safeParse(await res.json());
    return parsed.success ? parsed.data : DEFAULT_DEPLOY_CONFIG;
  } catch {
    return DEFAULT_DEPLOY_CONFIG;
  }
}
