import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The built app is package data of the Python package: `mediaflow serve` serves it at `/` (relative to this
// folder, the Vite root).
export default defineConfig({
  base: "/",
  plugins: [react()],
  build: { outDir: "../layers/core/mediaflow/dashboard_dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 2000 },
  server: { proxy: { "/v1": "http://127.0.0.1:8080", "/signin/": "http://127.0.0.1:8080", "/signout": "http://127.0.0.1:8080" } },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
