import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the app on :5173 and forwards Atrium's routes to a server started with `npm start`.
const atrium = process.env.ATRIUM_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  // Cornerstone's image decoder runs in a module worker.
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['@cornerstonejs/dicom-image-loader'] },
  build: { outDir: 'dist', assetsDir: 'assets', sourcemap: false, chunkSizeWarningLimit: 8192 },
  server: {
    proxy: Object.fromEntries(['/dicom-web', '/wado', '/api', '/ohif'].map((path) => [path, atrium])),
    headers: { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' },
  },
});
