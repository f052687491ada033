/**
 * Parses a `medley` command line with the real CLI's commands, options and value parsers, but
 * with every command's action replaced by a recorder: so a deploy file's command line is checked
 * flag by flag (unknown flag, missing value, value a parser refuses, unknown command) without
 * starting anything. The commands are registered exactly as cli/main.ts registers them.
 */
import { Command, CommanderError } from 'commander';
import { registerAgent } from '../../cli/commands/agent.js';
import { registerCoordinator } from '../../cli/commands/coordinator.js';
import { registerKeys } from '../../cli/commands/keys.js';
import { registerRound } from '../../cli/commands/round.js';
import { registerSite } from '../../cli/commands/site.js';
import { registerStatus } from '../../cli/commands/status.js';

export interface ParsedCommand {
  /** e.g. "coordinator serve" */
  command: string;
  /** the options commander resolved, defaults included */
  options: Record<string, unknown>;
}

function program(record: (parsed: ParsedCommand) => void): Command {
  const root = new Command().name('medley').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const register of [registerCoordinator, registerAgent, registerKeys, registerSite, registerRound, registerStatus]) register(root);
  const replace = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const subPath = [...path, sub.name()];
      if (sub.commands.length > 0) replace(sub, subPath);
      else sub.action((...args: unknown[]) => record({ command: subPath.join(' '), options: (args[args.length - 1] as Command).opts() }));
    }
  };
  replace(root, []);
  return root;
}

/** The parsed command, or an Error whose message is commander's (or a value parser's) complaint. */
export async function dryRun(argv: readonly string[]): Promise<ParsedCommand> {
  let parsed: ParsedCommand | undefined;
  try {
    await program((p) => (parsed = p)).parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new Error(`medley ${argv.join(' ')}: ${err.message}`);
    throw new Error(`medley ${argv.join(' ')}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!parsed) throw new Error(`medley ${argv.join(' ')}: names no command that runs (a command group without its sub-command?)`);
  return parsed;
}

/**
 * Splits one shell command line into words the way sh would for the simple lines in our scripts:
 * single and double quotes, and $NAME / ${NAME} from `vars` (an unknown variable is an error, so a
 * typo in a script is not silently read as an empty word).
 */
export function shellWords(line: string, vars: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | null = null;
  const expand = (text: string) =>
    text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, name: string) => {
      if (!(name in vars)) throw new Error(`${line}: no value for $${name}`);
      return vars[name];
    });
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|([^\s'"]+)|(\s+)/g;
  for (const m of line.matchAll(re)) {
    if (m[4] !== undefined) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = (word ?? '') + (m[1] ?? expand(m[2] ?? m[3]));
    }
  }
  if (word !== null) words.push(word);
  return words;
}
