// `npm run test:image`: builds the container image and runs it (and the
// compose deployment) with podman. Minutes, not seconds: builds and
// container starts are slow, so the limits are generous.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/image/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
