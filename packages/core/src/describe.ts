/**
 * How a value is named in an error message: "what came" next to "what was expected". One helper for
 * every message in core (options, checkpoints, machine inputs), so the same value reads the same
 * everywhere. Strings are quoted and cut at 80 characters: a message must stay one readable line and
 * must not echo a long secret back in full.
 */

/**
 * A short description of `value` for messages: `null`, `"text"`, `42`, `true`, `an array`,
 * `a Uint16Array`, `an object`, `undefined`, `a function`.
 */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    default: {
      if (Array.isArray(value)) return "an array";
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === "string" && name !== "" && name !== "Object" ? `a ${name}` : "an object";
    }
  }
}
