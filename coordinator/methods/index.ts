export { METHODS, chooseMethod, findMethod, methodNames, type ChosenMethod } from './registry.js';
export type { MethodBase, MethodDefinition } from './method.js';
