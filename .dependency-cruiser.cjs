// The layer order of ../shared/design.md, checked by `npm run lint`: each layer imports only the
// layers below it (same rank: neither imports the other), and no file cycles.
const layers = [
  ['schemas'],
  ['infra'],
  ['sources'],
  ['workers'],
  ['dataset', 'search'],
  ['crawl'],
  ['demo'],
  ['dashboard'],
  ['cli'],
];

const notBelow = (rank) => layers.slice(rank).flat().concat('test', 'bench');

const forbidden = layers.flatMap((names, rank) =>
  names.map((name) => ({
    name: `${name}-imports-down-only`,
    comment: `${name}/ may import only ${layers.slice(0, rank).flat().join(', ') || 'packages'} (see docs/architecture.md)`,
    severity: 'error',
    from: { path: `^${name}/` },
    to: { path: `^(${notBelow(rank).filter((other) => other !== name).join('|')})/` },
  })),
);

module.exports = {
  forbidden: [
    ...forbidden,
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|data|tmp|test-artifacts)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
