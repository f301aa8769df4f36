export interface DeployConfig {
  modelMirror: string | null;
  defaultModel: string | null;
  autoLoad: boolean;
  embedder: string | null;
  relays: string[];
}
export function deployConfigFromEnv(env: Record<string, string | undefined>): DeployConfig | null;
