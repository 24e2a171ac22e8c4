// Lint is part of `npm test`: typescript-eslint's recommended rules on the TypeScript sources.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'helm/**', 'certs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // src/http/node-http.ts says why: an ES import of node:http loads Node's bundled undici.
    files: ['src/**/*.ts'],
    ignores: ['src/http/node-http.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'node:http', message: 'take node:http values from src/http/node-http.ts (an ES import of node:http loads Node\'s bundled undici); type imports are fine', allowTypeImports: true }, { name: 'http', message: 'use src/http/node-http.ts', allowTypeImports: true }] }],
    },
  },
)
