// The monitor dashboard: signs in (session cookie), opens one gateway socket and wires the views.

import { api, setUnauthorizedHandler } from './api.js';
import { AccountView } from './views/account.js';
import { show } from './dom.js';
import { GatewaySocket } from './socket.js';
import { ConnectionView } from './views/connection.js';
import { renderExtras } from './views/extras.js';
import { JobDetailView } from './views/job-detail.js';
import { JobsView } from './views/jobs.js';
import { LoginView } from './views/login.js';
import { MachinesView } from './views/machines.js';
import { SubmitView } from './views/submit.js';
import { TotalsView } from './views/totals.js';

const $ = (id) => document.getElementById(id);
const MONITOR_SCOPES = ['monitor', 'admin'];
const SUBMIT_SCOPES = ['submit', 'admin'];

const connection = new ConnectionView($('connection'), $('disconnected-banner'));
const login = new LoginView($('login-view'), (me) => signedIn(me));
let session = null; // the running dashboard: {stop()}
let account = null; // the account page of whoever is signed in

setUnauthorizedHandler(() => signedOut('Your session has ended — sign in again.'));
$('logout').addEventListener('click', async () => {
  await api.endLogin().catch(() => {});
  signedOut();
});
for (const tab of document.querySelectorAll('#nav [data-page]')) tab.addEventListener('click', () => openPage(tab.dataset.page));

boot();

async function boot() {
  try {
    signedIn(await api.whoami());
  } catch (error) {
    signedOut(error.status === 401 ? null : `The silo cannot be reached: ${error.message}`);
  }
}

/** A monitor or admin sees the monitor and an account page; a user's login only the account page; any other key nothing. */
function signedIn(me) {
  const monitors = me.scopes?.some((s) => MONITOR_SCOPES.includes(s));
  if (!monitors && !me.login) {
    api.endLogin().catch(() => {});
    signedOut(`The key “${me.name}” has scopes ${me.scopes.join(', ') || 'none'}; the dashboard needs monitor or admin.`);
    return;
  }
  session?.stop();
  session = null;
  $('identity-name').textContent = me.name ?? '';
  show($('identity'), true);
  show($('login-view'), false);
  show($('nav'), monitors);
  account = new AccountView({ usage: $('usage'), keys: $('keys'), tenants: $('tenants'), users: $('users') }, me);
  if (monitors) session = startDashboard(me);
  openPage(monitors ? 'monitor' : 'account');
}

function openPage(page) {
  for (const tab of document.querySelectorAll('#nav [data-page]')) tab.setAttribute('aria-selected', String(tab.dataset.page === page));
  show($('dashboard-view'), page === 'monitor');
  show($('account-view'), page === 'account');
  if (page === 'account') account?.refresh();
}

function signedOut(message) {
  session?.stop();
  session = null;
  account = null;
  show($('identity'), false);
  show($('nav'), false);
  show($('dashboard-view'), false);
  show($('account-view'), false);
  show($('login-view'), true);
  login.open(message);
}

function startDashboard(me) {
  const lifetime = new AbortController();
  const { signal } = lifetime;
  const socket = new GatewaySocket({ onState: connection.update, onLagged: connection.lagged });
  const totals = new TotalsView($('totals'));
  const jobs = new JobsView({
    socket, toolbar: $('jobs-toolbar'), body: $('jobs-body'), empty: $('jobs-empty'), pager: $('jobs-pager'),
    onSelect: (id) => detail.open(id), signal,
  });
  const detail = new JobDetailView($('job-detail'), { socket, onChange: (id) => jobs.select(id) });
  const machines = new MachinesView({
    socket, toolbar: $('machines-toolbar'), grid: $('machines'), pager: $('machines-pager'),
    onSelectJob: (id) => detail.open(id), signal,
  });
  const submit = new SubmitView($('submit'), { onSubmitted: (id) => detail.open(id) });
  renderExtras($('extras'), { signal, socket, onSelectJob: (id) => detail.open(id) });

  socket.start();
  totals.start();
  machines.start();
  jobs.start();
  api.jobTypes().then(({ job_types: types }) => {
    jobs.setJobTypes(types);
    submit.render(types, me.scopes.some((s) => SUBMIT_SCOPES.includes(s)));
  }).catch(() => submit.render([], false));

  return {
    stop() {
      detail.close();
      jobs.stop();
      machines.stop();
      totals.stop();
      socket.stop();
      lifetime.abort();
    },
  };
}
