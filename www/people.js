// Who is here and who types: the People menu lists everyone connected
// (kv pushes a "presence" message over /ws), with their role and whether
// they are in control; it asks for, gives up, grants or takes control, and
// makes view-only share links. It also marks the page with the role
// (body[data-role]) so that a viewer is not offered controls kv would
// refuse; kv checks every request itself.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  let me = null; // this page's seat id
  let role = 'admin';
  let last = null; // the last presence, shown again once the role is known
  const control = (action, to) => {
    const msg = { type: 'control', action };
    if (to !== undefined) msg.to = to;
    document.dispatchEvent(new CustomEvent('kv-send', { detail: msg }));
  };

  const since = (unix) => new Date(unix * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

  function showPresence(p) {
    last = p;
    me = p.you;
    const list = $('people-list');
    list.replaceChildren();
    const holder = p.people.find((person) => person.control)?.id ?? null;
    const mayGrant = p.single && (holder === me || role === 'admin');
    for (const person of p.people) {
      const li = document.createElement('li');
      const who = person.user || 'anonymous';
      const state = person.control ? 'in control' : person.asking ? 'asks for control' : 'viewing';
      li.textContent = `${who}${person.id === me ? ' (you)' : ''} · ${person.role} · since ${since(person.since)} · ${state}`;
      li.dataset.user = who;
      li.classList.toggle('control', person.control);
      if (person.asking && mayGrant) {
        const give = document.createElement('button');
        give.type = 'button';
        give.textContent = 'Give control';
        give.addEventListener('click', () => control('grant', person.id));
        li.append(' ', give);
      }
      list.append(li);
    }
    $('people-summary').textContent = `People (${p.people.length})`;
    const canType = role !== 'viewer';
    $('control-ask').hidden = !(p.single && canType && holder !== me);
    $('control-release').hidden = holder !== me;
    $('control-take').hidden = !(p.single && role === 'admin' && holder !== me);
  }

  $('control-ask').addEventListener('click', () => control('request'));
  $('control-release').addEventListener('click', () => control('release'));
  $('control-take').addEventListener('click', () => control('take'));
  document.addEventListener('kv-presence', (e) => showPresence(e.detail));

  // ---- share links ----
  const said = (text) => { $('share-link').value = text; };

  async function listShares() {
    const r = await fetch('/api/shares', { cache: 'no-store' }).catch(() => null);
    if (!r || !r.ok) return;
    const list = $('share-list');
    list.replaceChildren();
    for (const s of (await r.json()).shares) {
      const li = document.createElement('li');
      li.textContent = `${s.name} until ${new Date(s.expires * 1000).toLocaleString()} `;
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.textContent = 'Revoke';
      revoke.addEventListener('click', async () => {
        await fetch(`/api/shares/${encodeURIComponent(s.id)}`, { method: 'DELETE' }).catch(() => null);
        listShares();
      });
      li.append(revoke);
      list.append(li);
    }
  }

  $('share-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = JSON.stringify({ name: $('share-name').value, minutes: Number($('share-minutes').value) });
    const r = await fetch('/api/shares', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })
      .catch(() => null);
    if (!r) { said('Not made: kv is not reachable.'); return; }
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) { said(`Not made: ${answer.error || r.status}`); return; }
    const url = answer.url || `${location.origin}${answer.link}`;
    said(url);
    const qr = $('share-qr');
    qr.replaceChildren();
    if (answer.qr) {
      const img = document.createElement('img');
      img.alt = `QR code of the link for ${answer.name || 'the guest'}`;
      img.width = img.height = 160;
      img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(answer.qr)}`;
      qr.append(img);
    }
    document.dispatchEvent(new CustomEvent('kv-share-link', { detail: { url, share: answer } }));
    listShares();
  });

  // ---- the role ----
  fetch('/api/session', { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : null))
    .then((s) => {
      if (!s) return;
      role = s.role;
      document.body.dataset.role = role;
      if (role === 'viewer') $('mode').disabled = true;
      $('share-form').hidden = role === 'viewer';
      if (role !== 'viewer') listShares();
      if (last) showPresence(last);
      document.dispatchEvent(new CustomEvent('kv-role', { detail: s }));
    })
    .catch(() => {});
})();
