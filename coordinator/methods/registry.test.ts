import { describe, expect, it } from 'vitest';
import { chooseMethod, findMethod, methodNames } from './registry.js';

describe('learning method registry', () => {
  it('resolves the default method to fedavg with no parameters', () => {
    const chosen = chooseMethod(undefined);
    expect(chosen.definition.name).toBe('fedavg');
    expect(chosen.params).toEqual({});
    expect(findMethod('').name).toBe('fedavg');
  });

  it('refuses an unknown method, naming the ones there are', () => {
    expect(() => chooseMethod('fedsgd')).toThrow(new RegExp(`unknown method "fedsgd"; choose one of ${methodNames().join(', ')}`));
  });

  it('refuses a parameter the method does not declare', () => {
    expect(() => chooseMethod('fedavg', { phi: 0.3 })).toThrow(/method fedavg has no parameter "phi"; it takes none/);
  });
});
