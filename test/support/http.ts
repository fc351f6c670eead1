export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function request<T = any>(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export { RISKY_TRANSACTION } from '../../scripts/lib/demo-requests.ts';

export { TRANSACTION as SAFE_TRANSACTION } from '../../apps/api/src/openapi/request-examples.ts';

export function wideMlpInput(rows: number, value = 0.5) {
  return [{ name: 'x', datatype: 'FP32', shape: [rows, 64], data: Array.from({ length: rows * 64 }, (_, i) => value + (i % 7) * 0.01) }];
}

export function lookupInput(ids: number[]) {
  return [{ name: 'ids', datatype: 'INT64', shape: [ids.length, 1], data: ids }];
}

export async function submitAndWait(baseUrl: string, body: unknown, waitSeconds = 20): Promise<JsonResponse> {
  const submitted = await request(baseUrl, 'POST', '/v1/jobs', body);
  if (submitted.status !== 202) throw new Error(`submit failed: ${submitted.status} ${JSON.stringify(submitted.body)}`);
  return request(baseUrl, 'GET', `/v1/jobs/${submitted.body.job_id}?wait=${waitSeconds}`);
}
