import { InvalidArgumentError, Option, type Command } from 'commander';
import { chooseMethod, methodNames } from '../../coordinator/methods/index.js';
import { namedNumbers } from './strategy-options.js';

/** `--method-param NAME=VALUE` (repeatable; a comma list also works). */
export const methodParam = namedNumbers('phi=0.3 for tgd');

/** Adds `--method NAME` and `--method-param NAME=VALUE` to a command. */
export function methodOptions(command: Command): Command {
  return command
    .option('--method <name>', `learning method at the sites: ${methodNames().join(', ')}`, 'fedavg')
    .addOption(
      new Option('--method-param <name=value>', "one of the method's parameters (repeat for more)")
        .argParser(methodParam)
        .default({}, "none: the method's defaults"),
    );
}

/**
 * Checks a method choice against this build's registry, for commands that start their own
 * coordinator and so can refuse a typo before spending time on start-up. Returns the parameters
 * with defaults filled in.
 */
export function checkMethod(name: string, params: Readonly<Record<string, number>>): Record<string, number> {
  try {
    return chooseMethod(name, params).params;
  } catch (err) {
    throw new InvalidArgumentError(`--method ${name}: ${(err as Error).message}`);
  }
}
