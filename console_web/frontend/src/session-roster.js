// The participants panel: who is in the session, in which mode, connected or not; for the owner, per participant:
// the mode (peer / observer), Transfer ownership (reps only) and Remove.

import { confirmDialog, el } from './ui.js';

const MODE_LABELS = { owner: 'Owner', peer: 'Peer', observer: 'Observer' };

export function modeLabel(mode) {
  return MODE_LABELS[mode] || String(mode || '');
}

/**
 * list: the <ul>; send(message) -> bool sends on the session socket; done() is called after an action (the page
 * puts the focus back on the terminal).
 */
export function createRoster(list, { send, done }) {
  let roster = { owner: null, participants: [] };
  let you = null;
  let manage = false;

  async function transfer(p) {
    const ok = await confirmDialog(
      'Transfer ownership',
      `Make ${p.name} the owner of this session? You stay in it as a peer.`,
      'Transfer',
    );
    if (ok) send({ t: 'transfer', participant: p.id });
    done();
  }

  async function remove(p) {
    const ok = await confirmDialog('Remove participant', `Remove ${p.name} from this session?`, 'Remove');
    if (ok) send({ t: 'remove', participant: p.id });
    done();
  }

  function row(p) {
    const isOwner = p.id === roster.owner || p.mode === 'owner';
    const isMe = you !== null && p.id === you.id;
    const mode = isOwner ? 'owner' : p.mode;
    const controls = [];
    if (manage && !isMe && !isOwner) {
      const select = el(
        'select',
        { class: 'mode-select', 'data-testid': 'mode-select', 'aria-label': `Mode of ${p.name}`, dataset: { action: 'mode' } },
        el('option', { value: 'peer', selected: mode === 'peer' }, 'Peer'),
        el('option', { value: 'observer', selected: mode === 'observer' }, 'Observer'),
      );
      select.addEventListener('change', () => {
        send({ t: 'set_mode', participant: p.id, mode: select.value });
        done();
      });
      controls.push(select);
      if (!p.external) {
        controls.push(
          el(
            'button',
            {
              type: 'button',
              class: 'small-button',
              'data-testid': 'transfer',
              'aria-label': `Transfer ownership to ${p.name}`,
              dataset: { action: 'transfer' },
              onclick: () => transfer(p),
            },
            'Transfer',
          ),
        );
      }
      controls.push(
        el(
          'button',
          {
            type: 'button',
            class: 'small-button danger',
            'data-testid': 'remove',
            'aria-label': `Remove ${p.name}`,
            dataset: { action: 'remove' },
            onclick: () => remove(p),
          },
          'Remove',
        ),
      );
    }
    return el(
      'li',
      {
        class: 'participant' + (p.connected === false ? ' offline' : '') + (isMe ? ' me' : ''),
        'data-testid': `participant-${p.name}`,
        dataset: { participantId: String(p.id), mode },
      },
      el(
        'div',
        { class: 'participant-line' },
        el('span', {
          class: 'dot ' + (p.connected === false ? 'dot-offline' : 'dot-online'),
          'data-testid': 'participant-connection',
          title: p.connected === false ? 'Connection lost' : 'Connected',
          'aria-label': p.connected === false ? 'Connection lost' : 'Connected',
          role: 'img',
        }),
        el('span', { class: 'participant-name' }, p.name),
        isMe ? el('span', { class: 'muted small' }, ' (you)') : null,
        el('span', { class: 'badge badge-mode-' + mode, 'data-testid': 'participant-mode' }, modeLabel(mode)),
        p.external ? el('span', { class: 'badge badge-external', 'data-testid': 'external', title: 'External invitee' }, 'External') : null,
        p.connected === false ? el('span', { class: 'participant-state' }, 'connection lost') : null,
      ),
      controls.length ? el('div', { class: 'participant-controls' }, controls) : null,
    );
  }

  function render() {
    // Keep the keyboard focus on the same control of the same participant across a re-render.
    const active = document.activeElement;
    const activeLi = active && list.contains(active) ? active.closest('li') : null;
    const focusKey = activeLi ? [activeLi.dataset.participantId, active.dataset.action] : null;
    const people = [...roster.participants].sort((a, b) => {
      const ao = a.id === roster.owner ? 0 : 1;
      const bo = b.id === roster.owner ? 0 : 1;
      return ao - bo || String(a.joined_at || '').localeCompare(String(b.joined_at || ''));
    });
    list.replaceChildren(...people.map(row));
    if (focusKey) {
      for (const li of list.children) {
        if (li.dataset.participantId !== focusKey[0]) continue;
        const target = li.querySelector(`[data-action="${focusKey[1]}"]`);
        if (target) target.focus();
      }
    }
  }

  return {
    /** A `roster` message. */
    set(msg) {
      roster = {
        owner: msg.owner ?? null,
        participants: Array.isArray(msg.participants) ? msg.participants.filter((p) => p && typeof p === 'object') : [],
      };
      render();
    },
    /** Who this browser is, and whether it may manage the others (the owner). */
    setYou(value, canManage) {
      you = value;
      manage = Boolean(canManage);
      render();
    },
    /** Redraw from the last roster (after a refused action, the controls show the real state again). */
    render,
    get participants() {
      return roster.participants;
    },
  };
}
