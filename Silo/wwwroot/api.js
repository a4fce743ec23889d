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

// A 401 from these is a wrong credential, answered on the form, not a session that ended.
const SIGN_IN_PATHS = new Set(['/api/session', '/api/auth/login', '/api/auth/register']);

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
  if (response.status === 401 && !SIGN_IN_PATHS.has(path)) onUnauthorized(error);
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
  passwordLogin: (email, password) => request('POST', '/api/auth/login', { email, password }),
  register: (email, password, invitation) => request('POST', '/api/auth/register', { email, password, invitation: invitation || undefined }),
  // Ends a key's session and a user's login alike, and clears the cookie.
  endLogin: () => request('POST', '/api/auth/logout'),

  usage: () => request('GET', '/api/usage'),
  tenantsUsage: () => request('GET', '/api/usage/tenants'),
  keys: () => request('GET', '/api/keys'),
  createKey: (name, scopes) => request('POST', '/api/keys', { name, scopes }),
  deleteKey: (keyId) => request('DELETE', `/api/keys/${id(keyId)}`),
  users: () => request('GET', '/api/users'),
  setUserDisabled: (userId, disabled) => request('POST', `/api/users/${id(userId)}/${disabled ? 'disable' : 'enable'}`),
  invite: () => request('POST', '/api/auth/invitations'),

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
