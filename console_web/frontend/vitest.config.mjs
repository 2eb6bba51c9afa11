// Unit tests of the front-end modules (npm test): vitest in a happy-dom document. The pages themselves are tested
// in real Chromium by tests/e2e.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'happy-dom',
    include: ['test/**/*.test.js'],
  },
});
