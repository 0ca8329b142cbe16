import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

declare const process: { env: Record<string, string | undefined> };

// The built app is package data of the Python package: `mediaflow serve` serves it at `/` (relative to this
// folder, the Vite root).
const api = process.env.MEDIAFLOW_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  plugins: [react()],
  build: { outDir: "../layers/core/mediaflow/dashboard_dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 2000 },
  server: { proxy: { "/v1": api, "/signin/": api, "/signout": api } },
  // generous: elkjs takes seconds to load on a busy 2-core machine
  test: { environment: "node", include: ["src/**/*.test.ts"], testTimeout: 60_000 },
});
