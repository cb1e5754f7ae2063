// `npm test`: every test but the container image's (test/image/, run by
// `npm run test:image`: it needs podman and builds images).
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, "test/image/**"],
    // Many tests start real processes (registries, redis-server, Chromium).
    // On two cores shared with a busy neighbour vitest's 5 s default was hit
    // by tests that take 2-3 s on a quiet machine (access.test.ts's three
    // `npm start` processes in a row). A hang still fails, after 30 s.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
