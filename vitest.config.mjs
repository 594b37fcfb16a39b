// vitest: the JS unit tests live in tests/js and run in node (pure functions only).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/js/**/*.test.js"],
    environment: "node",
  },
});
