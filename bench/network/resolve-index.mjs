// One more resolve hook beside bench/ts-source.mjs's: our sources import a
// folder by its name (`import('./p2p')` in src/services/network.ts), which
// Vite resolves to `./p2p/index.ts`; Node does not. Register it after
// enableTypeScriptSources() (the last registered hook runs first).
import { registerHooks } from 'node:module';

export function enableFolderIndexes() {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const relative = specifier.startsWith('./') || specifier.startsWith('../');
        if ((error?.code === 'ERR_MODULE_NOT_FOUND' || error?.code === 'ERR_UNSUPPORTED_DIR_IMPORT') && relative && !/\.[cm]?[jt]s$/.test(specifier)) {
          return nextResolve(`${specifier}/index.ts`, context);
        }
        throw error;
      }
    },
  });
}
