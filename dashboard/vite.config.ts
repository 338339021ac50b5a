/// <reference types="vitest/config" />
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built assets are Django static files (STATICFILES_DIRS → /static/dashboard/, served by
// whitenoise); the app itself lives at /dashboard/ (index.html from central_logger/dashboard.py).
export default defineConfig({
  base: "/static/dashboard/",
  plugins: [react(), tailwindcss()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 900 },
  server: {
    // `npm run dev`: the API runs on Django (make run); same-origin cookies through the proxy.
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
