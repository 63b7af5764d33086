import { fail } from '../core/errors.js';

/**
 * Scores of a decoded continuous quantity against the truth: MAPE (scikit-learn's
 * mean_absolute_percentage_error) and a power-law fit y ≈ C·x^α by least squares in log-log
 * space (NumPy `polyfit(log x, log y, 1)`), the symbolic check of a decoded force law
 * |F| ∝ r^α (Newton: α = −2).
 */

/**
 * Mean absolute percentage error as a fraction: mean(|ŷ − y| / max(|y|, ε)), ε = 2.220446e-16
 * (scikit-learn's mean_absolute_percentage_error; multiply by 100 for percent).
 */
export function mape(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  const n = truth.length;
  if (predicted.length !== n) fail('E_SHAPE', `mape: ${predicted.length} predictions for ${n} true values; pass one prediction per value`);
  if (n === 0) fail('E_ARG', 'mape: no values');
  let s = 0;
  for (let i = 0; i < n; i++) {
    const y = truth[i], p = predicted[i];
    if (!Number.isFinite(y) || !Number.isFinite(p)) fail('E_NONFINITE', `mape: value ${i} is not finite (prediction ${p}, truth ${y})`);
    s += Math.abs(p - y) / Math.max(Math.abs(y), Number.EPSILON);
  }
  return s / n;
}

export interface PowerLawFit {
  /** α in y ≈ C·x^α */
  exponent: number;
  /** C */
  coefficient: number;
  /** R² of the straight-line fit in log-log space */
  r2: number;
  /** pairs used (those with x > 0 and y > 0) */
  used: number;
}

/**
 * Least-squares fit of log y = α·log x + log C over the pairs with x > 0 and y > 0 (a decoded
 * magnitude can come out ≤ 0; those pairs are skipped and `used` says how many remained).
 * Needs at least two distinct x.
 */
export function powerLawFit(x: ArrayLike<number>, y: ArrayLike<number>): PowerLawFit {
  const n = x.length;
  if (y.length !== n) fail('E_SHAPE', `powerLawFit: ${n} x values but ${y.length} y values; pass one y per x`);
  let m = 0, sx = 0, sy = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) fail('E_NONFINITE', `powerLawFit: pair ${i} is not finite (x ${x[i]}, y ${y[i]})`);
    if (x[i] > 0 && y[i] > 0) {
      m++;
      sx += Math.log(x[i]);
      sy += Math.log(y[i]);
    }
  }
  if (m < 2) fail('E_ARG', `powerLawFit: only ${m} pairs with x > 0 and y > 0; a power law needs at least two`);
  const mx = sx / m, my = sy / m;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    if (!(x[i] > 0 && y[i] > 0)) continue;
    const dx = Math.log(x[i]) - mx, dy = Math.log(y[i]) - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (!(sxx > 0)) fail('E_ARG', 'powerLawFit: every x is the same; the exponent is undefined');
  const exponent = sxy / sxx;
  const resid = syy - exponent * sxy;
  return { exponent, coefficient: Math.exp(my - exponent * mx), r2: syy > 0 ? 1 - resid / syy : 1, used: m };
}
