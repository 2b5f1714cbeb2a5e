/**
 * Builds the dashboard into web/dist/ (`npm run build`); the admin server serves it at `/`
 * (src/admin/static.ts). Hashed files go to assets/, which the server caches for a year.
 */
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
  },
});
