// The deploy config (/h3lix.config.json) from H3LIX_* environment variables;
// null when none is set, so the static default in public/ is served.
//   H3LIX_MODEL_MIRROR   URL prefix of a model mirror in the hub layout ('/models/' = this server)
//   H3LIX_DEFAULT_MODEL  catalogue id proposed on first visit
//   H3LIX_AUTOLOAD       '1' to load the default model without asking (mirror deployments)
//   H3LIX_EMBEDDER       embedding model repo for memory and documents (default: the real all-MiniLM-L6-v2)
//   H3LIX_RELAYS         comma-separated relay multiaddrs for the network (scripts/start.mjs sets it to its own relay)
/** @param {Record<string, string | undefined>} env */
export function deployConfigFromEnv(env) {
  const mirror = env.H3LIX_MODEL_MIRROR;
  const model = env.H3LIX_DEFAULT_MODEL;
  const autoload = env.H3LIX_AUTOLOAD;
  const embedder = env.H3LIX_EMBEDDER;
  const relays = env.H3LIX_RELAYS;
  if (mirror === undefined && model === undefined && autoload === undefined && embedder === undefined && relays === undefined) {
    return null;
  }
  return {
    modelMirror: mirror || null,
    defaultModel: model || null,
    autoLoad: autoload === '1' || autoload === 'true',
    embedder: embedder || null,
    relays: (relays ?? '')
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== ''),
  };
}
