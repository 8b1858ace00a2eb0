import { defineConfig } from 'vitest/config';

// XENKIT_TEST_FILTER (comma-separated globs) narrows the suite; the README
// test uses it to run `npm test` verbatim inside a fresh copy of the
// repository without recursing into the whole suite (and itself).
const only = process.env.XENKIT_TEST_FILTER?.split(',').map((s) => s.trim()).filter((s) => s !== '');

export default defineConfig({
  test: {
    include: only && only.length > 0 ? only : ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
