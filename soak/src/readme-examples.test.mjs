// The adapter-side example of the emulator README's "Test your upload code against faults" is
// adapter-fault-example.test.ts, exactly: the README shows a file this suite runs.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

describe("emulator README", () => {
  it("shows adapter-fault-example.test.ts as its adapter-side vitest example, byte for byte", async () => {
    const emulatorDir = dirname(createRequire(import.meta.url).resolve("@resumable-gcs/emulator/package.json"));
    const readme = await readFile(join(emulatorDir, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Test your upload code against faults"));
    const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    const example = await readFile(new URL("./adapter-fault-example.test.ts", import.meta.url), "utf8");
    expect(blocks).toContain(example);
    expect(example).toContain('from "@resumable-gcs/node"');
  });
});
