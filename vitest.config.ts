// `npm test`: every test but the container image's (test/image/, run by
// `npm run test:image`: it needs podman and builds images).
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: { exclude: [...configDefaults.exclude, "test/image/**"] },
});
