// Lets a bench import the project's TypeScript sources as they are: Node
// 22.18+ strips the types, and this resolve hook adds the `.ts` that our
// extensionless imports leave out. Exits with the bench's JSON error line on
// an older Node. Import it first, then import the sources dynamically.
import { registerHooks } from 'node:module';

/** @param {string} bench the bench's name, for the JSON error line */
export function enableTypeScriptSources(bench) {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 22 || (major === 22 && minor < 18)) {
    console.log(JSON.stringify({ bench, error: `needs Node >= 22.18 (type stripping), this is ${process.version}; run it with npm run bench:${bench}` }));
    process.exit(1);
  }
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const relative = specifier.startsWith('./') || specifier.startsWith('../');
        if (error?.code === 'ERR_MODULE_NOT_FOUND' && relative && !/\.[cm]?[jt]s$/.test(specifier)) {
          return nextResolve(`${specifier}.ts`, context);
        }
        throw error;
      }
    },
  });
}
