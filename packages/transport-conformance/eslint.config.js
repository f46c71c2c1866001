// The root config, plus the rule that keeps the cases runnable in Deno, Bun, workerd and browsers.
import root from "../../eslint.config.js";

export default [
  ...root,
  {
    files: ["src/**/*.ts"],
    ignores: ["src/server/**", "src/test-support/**", "src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["node:*", "fs", "http", "https", "net", "path", "os", "crypto", "stream"], message: "the cases run in every runtime: web-standard globals only (Node code lives in src/server)." }] },
      ],
      "no-restricted-globals": [
        "error",
        ...["process", "Buffer", "require", "__dirname", "setImmediate"].map((name) => ({ name, message: "the cases run in every runtime: web-standard globals only." })),
      ],
    },
  },
];
