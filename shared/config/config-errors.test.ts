import { describe, expect, it } from 'vitest';
import { suggestKey } from './config-errors.js';

describe('suggestKey', () => {
  const keys = { '': ['coordinator', 'coordinatorKey', 'data'], data: ['source', 'seed'] };
  it('suggests a close key at the same level, or the same key at another level', () => {
    expect(suggestKey('CoordinatorKey', '', keys)).toBe('coordinatorKey');
    expect(suggestKey('coordinatorkye', '', keys)).toBe('coordinatorKey');
    expect(suggestKey('sed', 'data', keys)).toBe('data.seed');
    expect(suggestKey('source', '', keys)).toBe('data.source');
    expect(suggestKey('x', '', keys)).toBeUndefined();
    expect(suggestKey('unrelated', 'data', keys)).toBeUndefined();
  });
});
