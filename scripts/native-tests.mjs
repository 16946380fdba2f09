// Builds and runs the native/core unit tests plain, under ASan+UBSan, and under TSan; prints "N passed, N failed"
// and writes the totals to $NATIVE_TEST_SUMMARY (JSON) when set. Exit code 1 if any variant fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const variants = [
  { name: 'plain', sanitize: '' },
  { name: 'asan-ubsan', sanitize: 'address,undefined' },
  { name: 'tsan', sanitize: 'thread' },
];
const only = process.argv[2];
let passed = 0;
let failed = 0;
for (const v of variants.filter((x) => !only || x.name === only)) {
  const buildDir = path.join(root, 'build', `native-tests-${v.name}`);
  console.log(`\n# native/core tests: ${v.name}`);
  try {
    execFileSync('cmake', ['-S', path.join(root, 'native', 'tests'), '-B', buildDir, `-DSANITIZE=${v.sanitize}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('cmake', ['--build', buildDir, '--parallel', '2'], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    console.log(`build failed: ${err.message}`);
    failed++;
    continue;
  }
  const summaryDir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-native-'));
  const summary = path.join(summaryDir, 'summary.json');
  const run = spawnSync(path.join(buildDir, 'ortserve_core_tests'), [], {
    stdio: 'inherit',
    env: { ...process.env, NATIVE_TEST_SUMMARY: summary, TSAN_OPTIONS: 'halt_on_error=1', ASAN_OPTIONS: 'detect_leaks=1' },
  });
  try {
    const counts = JSON.parse(readFileSync(summary, 'utf8'));
    passed += counts.passed;
    failed += counts.failed + (run.status !== 0 && counts.failed === 0 ? 1 : 0);   // a sanitizer abort counts too
  } catch {
    console.log(`${v.name}: the test binary died before reporting (status ${run.status}, signal ${run.signal})`);
    failed++;
  }
  rmSync(summaryDir, { recursive: true, force: true });
}
console.log(`native: ${passed} passed, ${failed} failed`);
if (process.env.NATIVE_TEST_SUMMARY) writeFileSync(process.env.NATIVE_TEST_SUMMARY, JSON.stringify({ passed, failed }));
process.exit(failed === 0 ? 0 : 1);
