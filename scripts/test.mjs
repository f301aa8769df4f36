// Runs every test: type check, unit and property tests (Vitest, Node), then
// the end-to-end tests (Playwright, Debian's Chromium, against the built app).
// Ends with one line "N passed, N failed" summing both runners.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const steps = [];
function run(name, cmd, args) {
  console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env });
  steps.push({ name, ok: r.status === 0 });
  return r.status === 0;
}

mkdirSync('test-reports', { recursive: true });
rmSync('test-reports/unit.json', { force: true });
rmSync('test-reports/e2e.json', { force: true });

run('type check', 'npx', ['svelte-check', '--tsconfig', './tsconfig.json', '--threshold', 'error']);
run('unit tests', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile=test-reports/unit.json']);
run('end-to-end tests', 'npx', ['playwright', 'test']);

let passed = 0;
let failed = 0;
if (existsSync('test-reports/unit.json')) {
  const u = JSON.parse(readFileSync('test-reports/unit.json', 'utf8'));
  passed += u.numPassedTests ?? 0;
  failed += u.numFailedTests ?? 0;
}
if (existsSync('test-reports/e2e.json')) {
  const e = JSON.parse(readFileSync('test-reports/e2e.json', 'utf8'));
  passed += e.stats?.expected ?? 0;
  failed += (e.stats?.unexpected ?? 0) + (e.stats?.flaky ?? 0);
}
const stepFailures = steps.filter((s) => !s.ok);
for (const s of steps) console.log(`${s.ok ? '✔' : '✘'} ${s.name}`);
// A step that failed without counted test failures (type errors, a crash) still fails the run.
if (stepFailures.length && failed === 0) failed = stepFailures.length;
console.log(`${passed} passed, ${failed} failed`);
process.exit(stepFailures.length ? 1 : 0);
