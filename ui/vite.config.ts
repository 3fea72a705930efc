import { defineConfig } from 'vitest/config';

// The dev server and `vite preview` proxy the API to a running node
// (WARREN_URL, default http://127.0.0.1:8080), so pages talk to the real API
// on the same origin, as they do when the node serves the built UI.
const api = process.env.WARREN_URL ?? 'http://127.0.0.1:8080';
const proxy = {
  '/v1': { target: api, changeOrigin: false },
  '/healthz': { target: api },
  '/readyz': { target: api },
};

// public/.keep is copied to dist/.keep, so emptying dist on build keeps the
// tracked placeholder that go:embed needs on a fresh clone.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    rolldownOptions: {
      // "use client" in react-router and TanStack Query means nothing in a
      // client-only bundle.
      onwarn(w, warn) {
        if (w.code !== 'MODULE_LEVEL_DIRECTIVE') warn(w);
      },
    },
  },
  server: { proxy },
  preview: { proxy },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
    globals: true,
    restoreMocks: true,
    unstubGlobals: true,
    setupFiles: ['src/test/setup.ts'],
  },
});
