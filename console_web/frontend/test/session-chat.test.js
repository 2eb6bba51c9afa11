import { describe, expect, it } from 'vitest';
import { createChat } from '../src/session-chat.js';

function panel() {
  const make = (tag) => document.createElement(tag);
  const parts = {
    timeline: make('ol'),
    form: make('form'),
    input: make('textarea'),
    counter: make('span'),
    sendButton: make('button'),
    error: make('div'),
    exportButton: make('button'),
    newButton: make('button'),
  };
  const counted = [];
  const chat = createChat(parts, { send: () => true, fileName: () => 'chat.txt', onNew: (n) => counted.push(n) });
  return { chat, parts, counted };
}

const entry = (seq, text) => ({ seq, at: '2026-11-22T10:00:00Z', kind: 'chat', author: 'ann', text });

describe('the chat timeline', () => {
  it('says how many older entries the console left out of the history', () => {
    const { chat, parts } = panel();
    chat.replace([entry(7, 'newest kept')], 6);
    const omitted = parts.timeline.querySelector('[data-testid="timeline-omitted"]');
    expect(omitted.textContent).toBe('6 earlier entries are not shown here; the session report has them all.');
    expect(chat.entries.map((e) => e.text)).toEqual(['newest kept']);
  });

  it('shows continued history frames without counting them as new messages', () => {
    const { chat, counted } = panel();
    chat.replace([entry(1, 'a')], 0);
    chat.appendHistory([entry(2, 'b'), entry(3, 'c')]);
    chat.append([entry(4, 'live')]);
    expect(chat.entries.map((e) => e.text)).toEqual(['a', 'b', 'c', 'live']);
    expect(counted).toEqual([1]);
  });

  it('shows no omission line when nothing was left out', () => {
    const { chat, parts } = panel();
    chat.replace([entry(1, 'a')], 0);
    expect(parts.timeline.querySelector('[data-testid="timeline-omitted"]')).toBeNull();
  });
});
