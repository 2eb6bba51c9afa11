import { describe, expect, it } from 'vitest';

import { breadcrumbTrail } from '../src/session-files.js';

const reachable = (trail) => trail.map((crumb) => [crumb.label, crumb.reachable]);

describe('the breadcrumbs of the file view', () => {
  it('lead to every folder above when the user may go anywhere', () => {
    const trail = breadcrumbTrail('/srv/data/logs');
    expect(trail.map((crumb) => crumb.path)).toEqual(['/', '/srv', '/srv/data', '/srv/data/logs']);
    expect(reachable(trail)).toEqual([['/', true], ['srv', true], ['data', true], ['logs', true]]);
    expect(trail.map((crumb) => crumb.current)).toEqual([false, false, false, true]);
  });

  it('do not lead above the allowed folders', () => {
    const trail = breadcrumbTrail('/srv/data/logs', ['/srv/data', '/home/alice']);
    expect(reachable(trail)).toEqual([['/', false], ['srv', false], ['data', true], ['logs', true]]);
  });

  it('are only the root at /', () => {
    expect(breadcrumbTrail('/', [])).toEqual([{ label: '/', path: '/', current: true, reachable: true }]);
  });
});
