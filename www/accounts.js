// The Accounts panel, for admins only (kv answers others 403): the list of
// accounts with their roles, a role change, a new password, delete, and a
// form to add one. The account kv's configuration gives (KV_USER,
// --password-file, --password-hash) is shown as managed there.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const toggle = $('accounts-toggle');
  const panel = $('accounts');
  const said = (text) => { $('accounts-result').value = text; };

  async function call(method, path, body) {
    const init = { method, headers: { 'Content-Type': 'application/json' } };
    if (body) init.body = JSON.stringify(body);
    const r = await fetch(path, init).catch(() => null);
    if (!r) { said('Not done: kv is not reachable.'); return null; }
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) { said(`Not done: ${answer.error || r.status}`); return null; }
    said('Done.');
    return answer;
  }

  function row(account, roles) {
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    name.textContent = account.name;
    const role = document.createElement('td');
    const actions = document.createElement('td');
    if (account.managed) {
      role.textContent = `${account.role} (managed by kv's configuration)`;
    } else {
      const select = document.createElement('select');
      select.setAttribute('aria-label', `Role of ${account.name}`);
      for (const r of roles) select.append(new Option(r, r, false, r === account.role));
      select.addEventListener('change', () => change(account.name, { role: select.value }));
      role.append(select);
      const password = document.createElement('button');
      password.type = 'button';
      password.textContent = 'New password';
      password.addEventListener('click', () => {
        const p = window.prompt(`New password for ${account.name}`);
        if (p) change(account.name, { password: p });
      });
      const del = document.createElement('button');
      del.type = 'button';
      del.textContent = 'Delete';
      del.addEventListener('click', () => {
        if (window.confirm(`Delete the account ${account.name}? Its open pages close.`)) {
          call('DELETE', `/api/accounts/${encodeURIComponent(account.name)}`).then(show);
        }
      });
      actions.append(password, ' ', del);
    }
    tr.append(name, role, actions);
    return tr;
  }

  function show(list) {
    if (!list) return;
    $('accounts-rows').replaceChildren(...list.accounts.map((a) => row(a, list.roles)));
  }

  const change = (name, body) => call('POST', `/api/accounts/${encodeURIComponent(name)}`, body).then(show);

  async function load() {
    const r = await fetch('/api/accounts', { cache: 'no-store' }).catch(() => null);
    if (r && r.ok) show(await r.json());
  }

  $('account-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: $('account-name').value, role: $('account-role').value, password: $('account-password').value };
    const list = await call('POST', '/api/accounts', body);
    if (list) { $('account-form').reset(); show(list); }
  });

  toggle.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    toggle.setAttribute('aria-pressed', String(!panel.hidden));
    if (!panel.hidden) load();
  });

  // Shown to admins of a kv that keeps accounts (www/people.js tells the role).
  document.addEventListener('kv-role', (e) => {
    toggle.hidden = !(e.detail.role === 'admin' && e.detail.auth);
  });
})();
