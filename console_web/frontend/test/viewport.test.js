import { beforeEach, describe, expect, it } from 'vitest';

import { desktopSizeFor, desktopViewport, rememberDesktopRoom } from '../src/desktop/viewport.js';

describe('the desktop size a Jump asks for, from the figures measured in Chromium', () => {
  it('is the room beside the side panel and below the bars on one line each in a wide window', () => {
    expect(desktopSizeFor(1920, 1080)).toEqual({ desktop_width: 1600, desktop_height: 1003 });
    expect(desktopSizeFor(1366, 768)).toEqual({ desktop_width: 1046, desktop_height: 691 });
  });

  it('leaves room for the bars wrapping in narrower windows, and for the narrow side panel', () => {
    expect(desktopSizeFor(1200, 800)).toEqual({ desktop_width: 880, desktop_height: 686 }); // the page: 880 x 692
    expect(desktopSizeFor(1024, 768)).toEqual({ desktop_width: 704, desktop_height: 654 });
    expect(desktopSizeFor(700, 500)).toEqual({ desktop_width: 460, desktop_height: 315 }); // the page: 460 x 321
  });

  it('has an even width', () => {
    expect(desktopSizeFor(1921, 1080).desktop_width).toBe(1600);
    expect(desktopSizeFor(1923, 1080).desktop_width).toBe(1602);
  });

  it('stays within 200..8192 pixels a side, whatever the window', () => {
    expect(desktopSizeFor(300, 150)).toEqual({ desktop_width: 200, desktop_height: 200 });
    expect(desktopSizeFor(20000, 10000)).toEqual({ desktop_width: 8192, desktop_height: 8192 });
    expect(desktopSizeFor(Number.NaN, undefined)).toEqual({ desktop_width: 200, desktop_height: 200 });
  });
});

describe('the desktop size a Jump asks for, from what a session page measured', () => {
  beforeEach(() => localStorage.clear());

  it('is the room a desktop session page had in a window of the same width', () => {
    rememberDesktopRoom({ innerWidth: 1200, innerHeight: 800, localStorage }, 880, 692);
    expect(desktopViewport({ innerWidth: 1200, innerHeight: 900, localStorage })).toEqual({
      desktop_width: 880,
      desktop_height: 792,
    });
  });

  it('falls back to the measured figures in a window of another width', () => {
    rememberDesktopRoom({ innerWidth: 1200, innerHeight: 800, localStorage }, 880, 692);
    expect(desktopViewport({ innerWidth: 1920, innerHeight: 1080, localStorage })).toEqual(desktopSizeFor(1920, 1080));
  });

  it('believes no remembered layout that makes no sense, nor a damaged entry', () => {
    rememberDesktopRoom({ innerWidth: 1200, innerHeight: 800, localStorage }, 1300, 692); // wider than the window
    expect(localStorage.length).toBe(0);
    localStorage.setItem('openjump.desktopRoom', '{"innerWidth": 1200, "chrome": [320');
    expect(desktopViewport({ innerWidth: 1200, innerHeight: 800, localStorage })).toEqual(desktopSizeFor(1200, 800));
    localStorage.setItem('openjump.desktopRoom', JSON.stringify({ innerWidth: 1200, chrome: [-5, 'x'] }));
    expect(desktopViewport({ innerWidth: 1200, innerHeight: 800, localStorage })).toEqual(desktopSizeFor(1200, 800));
  });

  it('works without storage (a browser that refuses it)', () => {
    const refusing = {
      innerWidth: 1200,
      innerHeight: 800,
      get localStorage() {
        throw new DOMException('denied', 'SecurityError');
      },
    };
    expect(() => rememberDesktopRoom(refusing, 880, 692)).not.toThrow();
    expect(desktopViewport(refusing)).toEqual(desktopSizeFor(1200, 800));
  });

  it('stays within 200..8192 pixels a side and even, also from a remembered layout', () => {
    rememberDesktopRoom({ innerWidth: 1201, innerHeight: 800, localStorage }, 881, 692);
    expect(desktopViewport({ innerWidth: 1201, innerHeight: 250, localStorage })).toEqual({
      desktop_width: 880,
      desktop_height: 200,
    });
  });
});
