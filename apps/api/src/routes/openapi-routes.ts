import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Hono } from 'hono';
import { InferqError } from '@inferq/core/errors';
import type { AppEnv } from '../app-env.ts';
import type { OpenApiOptions } from '../openapi/openapi-spec.ts';

/** Swagger UI's files, served by the API itself from the npm package: /docs works with no internet. */
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const PACKAGE_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** Our own start-up script (a file rather than inline, so the page's CSP forbids inline scripts). */
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: 'openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

// Relative URLs: the page works wherever a proxy mounts the API (…/docs → …/docs/assets/…).
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>inferq API reference</title>
  <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script src="docs/assets/init.js"></script>
</body>
</html>
`;

/** Nothing but this origin: no CDN, no font service, no spec validator. */
const DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/**
 * `GET /openapi.json` (built from the request schemas once, at its first request: building it at
 * start would cost every API process time and memory for a page few of them serve; its module,
 * with the response schemas and examples only the document uses, is loaded then too) and
 * `GET /docs` with its assets.
 */
export function openapiRoutes(options: OpenApiOptions) {
  let document: Promise<string> | undefined;
  const cache = new Map<string, Promise<Buffer>>();
  const asset = (file: string) => {
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = readFile(path.join(SWAGGER_UI_DIR, file));
      cache.set(file, bytes);
    }
    return bytes;
  };
  return new Hono<AppEnv>()
    .get('/openapi.json', async (c) => {
      if (!document) {
        document = import('../openapi/openapi-spec.ts').then(({ buildOpenApiDocument }) => JSON.stringify(buildOpenApiDocument(options)));
        // A failed build is tried again by the next request rather than kept.
        document.catch(() => (document = undefined));
      }
      return c.body(await document, 200, { 'content-type': 'application/json; charset=utf-8' });
    })
    .get('/docs', (c) => c.html(PAGE, 200, { 'content-security-policy': DOCS_CSP }))
    .get('/docs/assets/:file', async (c) => {
      const file = c.req.param('file');
      if (file === 'init.js') return c.body(INIT_SCRIPT, 200, { 'content-type': 'text/javascript; charset=utf-8' });
      const type = PACKAGE_ASSETS[file];
      if (!type) throw new InferqError('NOT_FOUND', `no asset ${file}`);
      const body = await asset(file);
      return c.body(new Uint8Array(body), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
    });
}
