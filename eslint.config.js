// One flat config for every package; each package runs `eslint .` from its own folder.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.turbo/**", "**/coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-syntax": [
        "error",
        { selector: "ExportDefaultDeclaration", message: "Named exports only." },
      ],
    },
  },
  {
    // Core is sans-IO: time, randomness and I/O reach it only through its inputs.
    files: ["packages/core/src/**/*.ts"],
    // test-support is published (`@resumable-gcs/core/test`) and must run anywhere core runs: pure too.
    ignores: ["packages/core/src/**/*.test.ts", "packages/core/src/**/*.test-utils.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        ...["Date", "setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "queueMicrotask",
          "fetch", "Buffer", "process", "crypto", "performance", "XMLHttpRequest", "WebSocket", "require"].map(
          (name) => ({ name, message: "core is pure: pass time, randomness and I/O in as inputs." }),
        ),
      ],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "core is pure: randomness comes from an injected source." },
        { object: "globalThis", message: "core is pure: no globals." },
      ],
      "no-restricted-imports": ["error", { patterns: ["node:*", "fs", "http", "https", "net", "crypto", "os", "path"] }],
    },
  },
  {
    // Tool config files are loaded by their tools, which expect a default export.
    files: ["**/*.config.ts", "**/*.config.js", "**/*.config.mjs"],
    rules: { "no-restricted-syntax": "off" },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: "readonly", Buffer: "readonly", console: "readonly", setTimeout: "readonly", clearTimeout: "readonly", URL: "readonly" },
    },
  },
);
