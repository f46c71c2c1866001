import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

describe("README", () => {
  it('the vitest example of "Test your upload code against faults" is readme-example.test.ts, as published', async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Test your upload code against faults"));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    const example = await readFile(new URL("./readme-example.test.ts", import.meta.url), "utf8");
    // The only difference: the test imports the source, a user imports the package.
    expect(block).toBe(example.replace('from "./index.js"', 'from "@resumable-gcs/emulator"'));
  });
});
