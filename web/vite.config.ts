import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { VitePWA } from "vite-plugin-pwa";
import { defineConfig } from "vitest/config";

const backend = process.env.EMSYNC_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [
    react(),
    // Installable, and the app shell works offline (issue #23: the crew view). The worker is
    // src/sw.ts (Web Push too), built to /sw.js with the precache list injected.
    VitePWA({
      strategies: "injectManifest",
      srcDir: "src",
      filename: "sw.ts",
      injectRegister: "script",
      registerType: "autoUpdate",
      includeAssets: ["icons/apple-touch-icon.png"],
      injectManifest: {
        globPatterns: ["**/*.{js,css,html,png,svg,webmanifest}"],
        maximumFileSizeToCacheInBytes: 4 * 1024 * 1024,
      },
      manifest: {
        name: "EMsync",
        short_name: "EMsync",
        description: "Emergency medical coordination: dispatch, crew, monitor, hospital",
        start_url: "/",
        scope: "/",
        display: "standalone",
        orientation: "any",
        background_color: "#f4f6f8",
        theme_color: "#14213d",
        icons: [
          { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "/icons/icon-maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
      devOptions: { enabled: false },
    }),
  ],
  build: {
    // The Python package serves this folder at `/` (emsync.bootstrap.WEB_DIST).
    outDir: fileURLToPath(new URL("../src/emsync/web/dist", import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      "/api": backend,
      "/ws": { target: backend.replace(/^http/, "ws"), ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
