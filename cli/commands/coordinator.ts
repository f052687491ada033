import type { Command } from 'commander';
import { Coordinator, initCoordinatorState, type ModelEvaluator } from '../../coordinator/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { formatPublicKey, parsePublicKey } from '../../shared/crypto/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import { hostPort, logFormat, natsUrl, nonNegativeInt, positiveInt, positiveNumber, collect } from './parse.js';
import { loadServeSettings, resolveServeOptions, SERVE_DEFAULTS, SERVE_CONFIG_HELP, type ServeFlags } from './coordinator-options.js';
import { initialModel } from './initial-model.js';
import { dataSpecFrom, SPLITTABLE_KINDS } from './data-options.js';
import { registerDashboardToken } from './dashboard-token.js';
import { createLogger } from '../../shared/log/index.js';
import { orExitLogged } from './fatal-log.js';

interface InitOptions {
  dir: string;
  federation: string;
  site: string[];
  model: string;
  input: string;
  classes: number;
  seed: number;
  task?: string;
  depth?: number;
  filters?: number;
  up?: string;
  loss?: string;
}

const log = (m: string) => process.stderr.write(`[coordinator] ${m}\n`);

export function registerCoordinator(program: Command): void {
  const coordinator = program.command('coordinator').description('create and run the coordinator');
  coordinator
    .command('init')
    .description('create a coordinator state folder with the initial global model (version 1)')
    .requiredOption('--dir <state>', 'state folder to create (must be empty or absent)')
    .option('--federation <name>', 'federation name', 'medley')
    .option('--site <name=key>', 'enrol a site with its public key (ed25519:… or a .pub file); repeat for more', collect, [])
    .option('--model <arch|dir>', 'zoo architecture (cnn-small, resnet-mini, unet, dncnn) or a folder with a TF.js model.json', 'cnn-small')
    .option('--input <HxWxC>', 'input shape for a zoo model', '28x28x1')
    .option('--classes <n>', 'number of classes (or labels, multi-label) for a zoo classifier', positiveInt, 2)
    .option('--task <kind>', "what the model learns: classification, multi-label, segmentation or denoising (default: the architecture's own; unet segments, dncnn denoises)")
    .option('--depth <n>', 'unet: 2x downsamplings (2); dncnn: conv layers in all (8)', positiveInt)
    .option('--filters <n>', 'unet: filters at the first level (8); dncnn: filters per layer (16)', positiveInt)
    .option('--up <mode>', 'unet: how the decoder upsamples: upsample (nearest neighbour) or transpose (learned transposed conv)')
    .option('--loss <l1|l2>', 'denoising: the loss against the clean image (l2)')
    .option('--seed <s>', 'seed of the initial weights', nonNegativeInt, 1234)
    .action(async (opts: InitOptions) => {
      const model = await initialModel(opts.model, opts.input, opts.classes, opts.seed, { task: opts.task, depth: opts.depth, filters: opts.filters, up: opts.up, loss: opts.loss });
      const sites = opts.site.map((entry) => {
        const eq = entry.indexOf('=');
        if (eq <= 0) throw new ConfigError(`--site ${entry}: give NAME=KEY, where KEY is the site's "ed25519:…" public key or its .pub file`);
        return { name: entry.slice(0, eq), publicKey: parsePublicKey(entry.slice(eq + 1), `--site ${entry.slice(0, eq)}`) };
      });
      const { manifest, keys } = await initCoordinatorState({ stateDir: opts.dir, federation: opts.federation, sites, model });
      process.stderr.write(
        `initialised ${opts.dir}: federation ${opts.federation}, model version ${manifest.version} (${manifest.totalBytes / 4} parameters), sites: ${sites.map((s) => s.name).join(', ') || '(none yet; add with `medley site add`)'}\n` +
          `coordinator identity: ${coordinatorKeyPath(opts.dir)} (public key in ${coordinatorKeyPath(opts.dir)}.pub; give it to every site for --coordinator-key)\n` +
          `admin key: ${adminKeyPath(opts.dir)} (needed by \`medley status\` and \`medley round start\`; keep it secret)\n`,
      );
      process.stdout.write(formatPublicKey(keys.identity.signPublicKey) + '\n');
    });
  registerDashboardToken(coordinator);
  coordinator
    .command('serve')
    .description('run the coordinator: accept agents, run rounds, serve the admin API')
    .option('--config <file>', "the coordinator's configuration (YAML; see deploy/coordinator.example.yaml): any of the settings below as camelCase keys, NATS under nats:")
    .option('--dir <state>', 'state folder made by `medley coordinator init` (required: here, MEDLEY_DIR or `dir` in --config)')
    .option('--listen <host:port>', `address to listen on (port 0 picks a free one) (default: ${SERVE_DEFAULTS.listen})`, hostPort)
    .option('--eval-data <synthetic|file.npz>', 'score each new global model on this held-out data')
    .option('--eval-seed <s>', `seed of synthetic held-out data (default: ${SERVE_DEFAULTS.evalSeed})`, nonNegativeInt)
    .option('--max-norm <l2>', 'refuse updates whose L2 norm is larger', positiveNumber)
    .option('--drop-grace <seconds>', `how long a disconnected site keeps its place in a round (default: ${SERVE_DEFAULTS.dropGrace})`, positiveInt)
    .option('--strategy-memory <MiB>', `memory for the individual updates robust strategies keep (median, Krum, ...); beyond it they spill to STATE/strategy-spill (default: ${SERVE_DEFAULTS.strategyMemory})`, positiveInt)
    .option('--nats <url>', 'NATS server(s) for the event bus: nats://HOST:PORT or tls://HOST:PORT, comma-separated for a cluster (default: the bus rides each agent\'s gRPC connection)', natsUrl)
    .option('--nats-user <name>', 'NATS user name (with --nats-password-file)')
    .option('--nats-password-file <file>', 'file holding the NATS user\'s password')
    .option('--nats-nkey-file <file>', 'file holding an NKEY seed for NATS')
    .option('--nats-creds <file>', 'a NATS .creds file (user JWT and NKEY seed)')
    .option('--http <host:port>', 'serve the dashboard and /metrics on this address (off when absent)', hostPort)
    .option('--log-format <text|json>', `log lines as text or one JSON object a line (default: ${SERVE_DEFAULTS.logFormat})`, logFormat)
    .option('--transfer-set <synthetic|FILE.npz[:split]>', 'federated distillation (--method distill): the public, unlabelled images sites label and the student trains on; a MedMNIST .npz takes its val split unless :train or :test is named (flag only)')
    .option('--transfer-count <n>', 'images taken from --transfer-set (default 500)', positiveInt)
    .addHelpText('after', SERVE_CONFIG_HELP)
    .action(async (flags: ServeFlags & { transferSet?: string; transferCount?: number }) => {
      const opts = resolveServeOptions(flags, await loadServeSettings(flags.config));
      // Shadows the module's text writer: serve logs in the format asked for (--log-format).
      const log = createLogger({ format: opts.logFormat, role: 'coordinator' });
      let evaluator: ModelEvaluator | undefined;
      if (opts.evalData) {
        const { loadHeldOut } = await import('../../shared/data/index.js');
        const { createHeldOutEvaluator } = await import('../../coordinator/eval/held-out-evaluator.js');
        const spec = dataSpecFrom({ data: opts.evalData, seed: opts.evalSeed, shard: '1/1', partition: 'iid' }, { flag: '--eval-data', kinds: SPLITTABLE_KINDS, refusal: 'held-out evaluation at the coordinator takes synthetic or a .npz' });
        const heldOut = loadHeldOut(spec);
        log(`held-out evaluation on ${heldOut.count} images from ${opts.evalData}`);
        evaluator = await createHeldOutEvaluator(heldOut, log);
      }
      let transferSet;
      if (flags.transferSet !== undefined) {
        const { loadTransferImages } = await import('../../shared/distill/index.js');
        transferSet = loadTransferImages(flags.transferSet, flags.transferCount ?? 500, opts.evalSeed);
      }
      const coordinator = await orExitLogged(log, opts.logFormat, Coordinator.open({ stateDir: opts.dir, log, evaluator, transferSet, maxUpdateNorm: opts.maxNorm ?? null, dropGraceMs: opts.dropGrace * 1000, strategyMemoryBytes: opts.strategyMemory * 1024 * 1024, nats: opts.nats }));
      log.redact(coordinator.dashboardToken);
      const address = await orExitLogged(log, opts.logFormat, coordinator.listen(opts.listen));
      const http = opts.http === undefined ? undefined : await orExitLogged(log, opts.logFormat, coordinator.listenHttp(opts.http));
      const stop = async (signal: string) => {
        log(`${signal}: shutting down`);
        await coordinator.close();
        process.exit(0);
      };
      // Before the line below: a supervisor may send SIGTERM the moment it reads it, and without a
      // handler that signal kills the process outright (no clean shutdown, the state lock left behind).
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      // One machine-readable line on stdout, so a supervisor (or the demo) learns the bound port.
      process.stdout.write(JSON.stringify({ event: 'listening', address, ...(http ? { http } : {}), federation: coordinator.federation, modelVersion: coordinator.store.latest }) + '\n');
    });
}
