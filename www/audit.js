// The Security panel's audit log, for admins: the newest events from
// GET /api/audit, shown when the panel opens. Anyone else gets 403 and the
// table stays hidden (the server decides, not this page).
'use strict';

(() => {
  const byId = (id) => document.getElementById(id);
  const section = byId('audit');
  const rows = byId('audit-events');

  async function refresh() {
    const r = await fetch('/api/audit?limit=100', { cache: 'no-store' }).catch(() => null);
    section.hidden = !r || !r.ok;
    if (section.hidden) return;
    const events = await r.json();
    rows.replaceChildren(...events.map((e) => {
      const tr = document.createElement('tr');
      for (const text of [e.utc.replace('T', ' ').replace('Z', ''), e.event, e.user || '', e.address || '', e.detail]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }));
  }

  document.addEventListener('kv-security-open', refresh);
  byId('audit-refresh').addEventListener('click', refresh);
})();
