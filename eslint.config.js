// Lint rules, including the layer boundaries of STYLE.md: domain is pure; only adapters do I/O.
import tseslint from 'typescript-eslint';

const nodeIo = ['node:fs', 'node:fs/promises', 'node:child_process', 'node:net', 'node:dgram', 'node:http', 'node:https', 'fs', 'fs/promises', 'child_process'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'src/api/generated/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The domain is pure: no I/O, no Kubernetes client, no process environment.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeIo, patterns: ['@kubernetes/*', '**/agent/**', '**/operator/**', '**/k8s/**', '**/runtime/**', '**/cli/**'] }],
      'no-restricted-globals': ['error', 'process'],
    },
  },
);
