// The HTTP API (docs/api.md) through the session cookie. Every call resolves to the parsed JSON body or
// throws an ApiError carrying the server's {code, message}.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called with the error when any call answers 401, so the app can show the login form. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The silo cannot be reached');
  }
  const data = await response.json().catch(() => null);
  if (response.ok && data?.success !== false) return data;
  const error = new ApiError(response.status, data?.error?.code ?? `HTTP_${response.status}`,
    data?.error?.message ?? `${response.status} ${response.statusText}`);
  if (response.status === 401 && path !== '/api/session') onUnauthorized(error);
  throw error;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

const id = (value) => encodeURIComponent(value);

export const api = {
  whoami: () => request('GET', '/api/whoami'),
  login: (apiKey) => request('POST', '/api/session', { api_key: apiKey }),
  logout: () => request('DELETE', '/api/session'),

  stats: (minutes = 15) => request('GET', `/api/stats${query({ minutes })}`),
  silos: () => request('GET', '/api/silos'),
  workflows: ({ cursor, limit }) => request('GET', `/api/workflows${query({ cursor, limit })}`),
  workflow: (workflowId) => request('GET', `/api/workflows/${id(workflowId)}/status`),
  machine: (machineId) => request('GET', `/api/machines/${id(machineId)}`),
  machines: ({ cursor, limit, ids }) => request('GET', `/api/machines${query({ cursor, limit, ids: ids?.join(',') })}`),

  jobs: ({ status, type, machine, cursor, limit }) => request('GET', `/api/jobs${query({ status, type, machine, cursor, limit })}`),
  job: (jobId) => request('GET', `/api/jobs/${id(jobId)}/status`),
  jobEvents: (jobId) => request('GET', `/api/jobs/${id(jobId)}/events`),
  jobTypes: () => request('GET', '/api/job-types'),
  submit: (job) => request('POST', '/api/jobs/submit', job),
  cancel: (jobId) => request('POST', `/api/jobs/${id(jobId)}/cancel`),
  retry: (jobId) => request('POST', `/api/jobs/${id(jobId)}/retry`),
};
