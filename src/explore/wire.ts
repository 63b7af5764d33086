/**
 * The JSON the explorer server (server.ts) sends, one declaration per response: the server's
 * handlers are checked against these types and the web views (web/src) read them (type-only
 * imports, erased from the bundle). On the wire NaN and ±Infinity become null (sendJson), so a
 * number the server may compute as NaN is `number | null` here.
 */
import type { FeatureDetail, FeatureRow, ModelSummary } from './model-data.js';
import type { ExperimentView } from './experiment-data.js';
import type { SummaryRow } from '../experiments/report.js';

/** Which view a directory gets. */
export type DirKind = 'model' | 'experiment';

/** GET /api/info */
export interface InfoResponse {
  kind: DirKind;
  /** the directory's name */
  name: string;
  /** whether the web app is built (else the server explains how to build it) */
  webBuilt: boolean;
}

/** A feature row as sent (nearestCos is NaN, so null, for a one-atom dictionary). */
export type FeatureRowJson = Omit<FeatureRow, 'nearestCos'> & { nearestCos: number | null };

/** A model summary as sent (a metric that is NaN arrives as null). */
export type ModelSummaryJson = Omit<ModelSummary, 'metrics'> & { metrics: Record<string, number | null> };

/** GET /api/model */
export interface ModelResponse {
  summary: ModelSummaryJson;
  features: FeatureRowJson[];
}

/** GET /api/feature/<i> */
export type FeatureResponse = Omit<FeatureDetail, 'row'> & { row: FeatureRowJson };

/** One config × method row as sent (means and standard deviations that are NaN arrive as null). */
export type SummaryRowJson = Omit<SummaryRow, 'mean' | 'std'> & {
  mean: Record<string, number | null>;
  std: Record<string, number | null>;
};

/** GET /api/experiment */
export type ExperimentResponse = Omit<ExperimentView, 'rows'> & { rows: SummaryRowJson[] };

/** Any error response: {error} with a 4xx/5xx status. */
export interface ErrorResponse {
  error: string;
}
