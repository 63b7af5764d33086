/**
 * The architecture of docs/architecture.md, enforced by `test/architecture.test.ts`:
 * no import cycles, and no import up the layers. A layer may import any layer listed before it.
 */
const LAYERS = [
  'core', 'backend', 'linalg', 'io', 'optim', 'nn', 'worlds', 'preprocess', 'inference',
  'dictionary', 'objectives', 'metrics', 'alignment', 'experiments', 'explore', 'cli',
];

const upward = LAYERS.map((layer, i) => ({
  name: `no-upward-from-${layer}`,
  comment: `src/${layer}/ may import only from layers below it (${LAYERS.slice(0, i).join(', ') || 'none'})`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|') || '$^'})/` },
})).filter((r) => !r.to.path.includes('($^)'));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle: break it with a small interface in the lower module',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unknown-layer',
      comment: 'every folder of src/ is a layer of docs/architecture.md: add new folders to LAYERS in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: `^src/(${LAYERS.join('|')})/` },
      to: {},
    },
    {
      name: 'web-imports-only-types-and-browser-safe-code',
      comment: 'web/ pages may import src/ (browser-safe modules) but never node-only I/O or the CLI',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^src/(cli|io/atomic|explore/server)' },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
