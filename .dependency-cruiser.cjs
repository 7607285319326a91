// Layer rules (STYLE.md 1-2): domain (pure) -> runtime -> adapters -> entrypoints.
// The agent and the operator never import each other; only k8s/ talks to the API server.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'domain-is-pure', severity: 'error', comment: 'src/domain may import only src/domain and src/api types',
      from: { path: '^src/domain' }, to: { pathNot: ['^src/domain', '^src/api'] } },
    { name: 'runtime-below-adapters', severity: 'error', comment: 'src/runtime may import only domain and runtime',
      from: { path: '^src/runtime' }, to: { path: '^src/(agent|operator|k8s|cli)' } },
    { name: 'agent-not-operator', severity: 'error', comment: 'the agent and the operator never import each other',
      from: { path: '^src/agent' }, to: { path: '^src/operator' } },
    { name: 'operator-not-agent', severity: 'error', comment: 'the agent and the operator never import each other',
      from: { path: '^src/operator' }, to: { path: '^src/agent' } },
    { name: 'only-k8s-uses-client', severity: 'error', comment: 'only src/k8s talks to the API server',
      from: { path: '^src', pathNot: '^src/k8s' }, to: { path: '@kubernetes/client-node' } },
    { name: 'plugin-layers', severity: 'error',
      comment: 'the kubectl plugin reads through src/k8s and computes with domain; of the CLI it shares only the table helpers (cli/render.ts)',
      from: { path: '^src/plugin' }, to: { path: '^src/', pathNot: ['^src/(plugin|domain|runtime|k8s|api)/', '^src/cli/render\\.ts$'] } },
    { name: 'only-entry-imports-plugin', severity: 'error', comment: 'the plugin is an entrypoint: only src/cli/kubectl-dropwatch.ts runs it',
      from: { path: '^src', pathNot: ['^src/plugin/', '^src/cli/kubectl-dropwatch\\.ts$'] }, to: { path: '^src/plugin/' } },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '\\.test\\.ts$' },
  },
};
