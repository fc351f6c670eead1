import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import type { QueueDashboardOptions } from './queue-board.ts';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/** bull-board's own Google Fonts stylesheet: the page falls back to system fonts without it. */
const OUTSIDE_FONTS = /<link[^>]*fonts\.(?:googleapis|gstatic)\.com[^>]*>\s*/g;

/**
 * bull-board over every queue inferq uses, mounted at /admin/queues behind the admin scope that
 * app.ts puts on /admin/* (its scripts and JSON API included). bull-board is loaded on the first
 * request, not at start: most API processes never serve the dashboard, and loading it costs
 * start-up time and memory. Its page is served without the outside font request it carries.
 */
export function queueDashboard(options: QueueDashboardOptions) {
  let board: Promise<Hono> | undefined;
  const load = () => {
    board ??= import('./queue-board.ts').then(({ queueBoard }) => new Hono().route(QUEUE_DASHBOARD_PATH, queueBoard(QUEUE_DASHBOARD_PATH, options)));
    return board;
  };
  return new Hono<AppEnv>().all('*', async (c) => {
    const response = await (await load()).fetch(c.req.raw, c.env);
    if (!response.headers.get('content-type')?.startsWith('text/html')) return response;
    const html = (await response.text()).replace(OUTSIDE_FONTS, '');
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    return new Response(html, { status: response.status, headers });
  });
}
