/**
 * Rényi differential privacy (Mironov 2017) for what a site releases: each round one clipped,
 * noised update, i.e. the Gaussian mechanism with sensitivity clipNorm and noise std
 * noiseMultiplier * clipNorm. There is no subsampling amplification: the site's whole data set
 * stands behind every update it sends, so each release costs the full Gaussian RDP.
 */

/**
 * Rényi orders searched when converting to (epsilon, delta): TF Privacy's fractional orders
 * (1.1 .. 10.9 in steps of 0.1, plus 1.25, 1.75, 2.25), the integers 11 .. 64, and 128, 256.
 * The best order is near 1 + sigma * sqrt(2 log(1/delta)) for one release and falls toward 1 as
 * releases compose, so the grid is dense at low orders and sparse at high ones.
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze(
  [
    ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
    1.25,
    1.75,
    2.25,
    ...Array.from({ length: 54 }, (_, x) => 11 + x),
    128,
    256,
  ].sort((a, b) => a - b),
);

/** RDP of one Gaussian release at each order: alpha / (2 sigma^2). sigma 0 (no noise) is Infinity. */
export function rdpOfGaussian(noiseMultiplier: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  if (!Number.isFinite(noiseMultiplier) || noiseMultiplier < 0) {
    throw new RangeError(`noise multiplier ${noiseMultiplier} must be a finite number of at least 0`);
  }
  checkOrders(orders);
  if (noiseMultiplier === 0) return orders.map(() => Infinity);
  return orders.map((alpha) => alpha / (2 * noiseMultiplier * noiseMultiplier));
}

/**
 * (epsilon, delta)-DP from RDP, with the conversion of Canonne, Kamath & Steinke 2020 (Prop. 12)
 * / Balle et al. 2020 (Thm. 21), as TF Privacy and Opacus use it:
 *   epsilon = rdp + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1),
 * minimised over the orders. It is never looser than the classic rdp + log(1/delta)/(alpha-1).
 */
export function epsilonFromRdp(rdp: readonly number[], orders: readonly number[], delta: number): number {
  checkOrders(orders);
  if (rdp.length !== orders.length) throw new RangeError(`${rdp.length} RDP values for ${orders.length} orders`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta ${delta} must be between 0 and 1 (exclusive)`);
  let best = Infinity;
  for (let i = 0; i < orders.length; i++) {
    const alpha = orders[i];
    const r = rdp[i];
    if (!(r >= 0)) throw new RangeError(`RDP value ${r} at order ${alpha} must be at least 0`);
    if (r === Infinity) continue;
    const eps = r + Math.log((alpha - 1) / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
    // The formula can dip below 0 for tiny rdp; epsilon 0 is the floor (no privacy loss).
    best = Math.min(best, Math.max(0, eps));
  }
  return best;
}

function checkOrders(orders: readonly number[]): void {
  if (orders.length === 0) throw new RangeError('no Rényi orders given');
  for (const alpha of orders) {
    if (!(alpha > 1) || !Number.isFinite(alpha)) throw new RangeError(`Rényi order ${alpha} must be a finite number above 1`);
  }
}
