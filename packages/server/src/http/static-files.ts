/**
 * The web chat page: plain HTML, CSS and JavaScript files from the package's web/ folder,
 * read once at start, served with their content types and a Content-Security-Policy that
 * lets the page load nothing but these files and talk to nothing but this server.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

/**
 * The package's web/ folder. This module runs from src/http/ (sources) or bundled into
 * dist/index.js (the published package), one folder less deep, so both places are tried.
 */
function webDir(): URL {
  const candidates = [new URL('../web/', import.meta.url), new URL('../../web/', import.meta.url)];
  const found = candidates.find((dir) => existsSync(new URL('index.html', dir)));
  if (!found) throw new Error(`@lmflow/server: the chat page's files are missing (looked for web/index.html at ${candidates.map((c) => c.pathname).join(' and ')}); reinstall the package`);
  return found;
}

/** URL path -> file in web/ and its content type. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/chat.css': { file: 'chat.css', type: 'text/css; charset=utf-8' },
  '/chat.js': { file: 'chat.js', type: 'text/javascript; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface StaticFiles {
  /** Serves the page's file for a path; false when the path is not one of them. */
  serve(path: string, res: ServerResponse, headOnly: boolean): boolean;
}

export function loadStaticFiles(): StaticFiles {
  const dir = webDir();
  const contents = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(FILES)) contents.set(path, { body: readFileSync(new URL(file, dir)), type });
  return {
    serve(path, res, headOnly) {
      const entry = contents.get(path === '/index.html' ? '/' : path);
      if (!entry) return false;
      res.writeHead(200, {
        'Content-Type': entry.type,
        'Content-Length': entry.body.length,
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': 'no-cache',
      });
      res.end(headOnly ? undefined : entry.body);
      return true;
    },
  };
}
