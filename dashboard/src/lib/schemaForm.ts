/** A node's JSON Schema (as the catalog gives it, pydantic-generated) turned into a form model: one field per
 * property with its control, limits and default; plus parsing and checking of what the user typed. */
import type { JsonSchema } from "../api/types";

export type Control = "integer" | "number" | "select" | "checkbox" | "text" | "list" | "json";

export interface FieldModel {
  name: string;
  label: string;
  control: Control;
  required: boolean;
  nullable: boolean;
  options?: string[];
  min?: number;
  max?: number;
  exclusiveMin?: number;
  exclusiveMax?: number;
  step?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  default?: unknown;
  hasDefault: boolean;
  description?: string;
  itemOptions?: string[];
}

/** "outputFormat" -> "Output format", "max_size" -> "Max size", "withoutEnlargement" -> "Without enlargement". */
export function humanise(name: string): string {
  const words = name
    .replace(/[_-]+/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function resolve(schema: JsonSchema, root: JsonSchema, depth = 0): JsonSchema {
  if (schema.$ref && depth < 20) {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const defs = (root.$defs ?? (root as Record<string, unknown>).definitions) as Record<string, JsonSchema> | undefined;
    const target = match && defs ? defs[match[2]] : undefined;
    if (target) {
      const { $ref: _ignored, ...rest } = schema;
      void _ignored;
      return resolve({ ...target, ...rest }, root, depth + 1);
    }
  }
  return schema;
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (schema.type) return [schema.type];
  if (schema.enum) return [typeof schema.enum[0] === "number" ? "number" : "string"];
  return [];
}

/** The non-null alternative of `anyOf: [X, {type: null}]` (and whether null was allowed). */
export function unwrapNullable(schema: JsonSchema, root: JsonSchema): { inner: JsonSchema; nullable: boolean } {
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const resolved = alternatives.map((alt) => resolve(alt, root));
    const nonNull = resolved.filter((alt) => !(alt.type === "null" || (Array.isArray(alt.type) && alt.type.length === 1 && alt.type[0] === "null")));
    const nullable = nonNull.length < resolved.length;
    if (nonNull.length === 1) {
      const { anyOf: _a, oneOf: _o, ...rest } = schema;
      void _a;
      void _o;
      return { inner: { ...nonNull[0], ...rest, default: schema.default ?? nonNull[0].default }, nullable };
    }
    return { inner: schema, nullable };
  }
  const types = typesOf(schema);
  if (types.includes("null") && types.length === 2) {
    return { inner: { ...schema, type: types.find((t) => t !== "null") }, nullable: true };
  }
  return { inner: schema, nullable: false };
}

export function fieldModel(name: string, raw: JsonSchema, root: JsonSchema, required: boolean): FieldModel {
  const { inner, nullable } = unwrapNullable(resolve(raw, root), root);
  const schema = resolve(inner, root);
  const types = typesOf(schema);
  const base: FieldModel = {
    name,
    label: humanise(name),
    control: "json",
    required,
    nullable,
    hasDefault: "default" in raw || "default" in schema,
    default: "default" in raw ? raw.default : schema.default,
    description: raw.description ?? schema.description,
  };
  if (schema.enum && schema.enum.every((v) => typeof v === "string" || typeof v === "number")) {
    return { ...base, control: "select", options: schema.enum.map(String) };
  }
  if (schema.const !== undefined && typeof schema.const === "string") {
    return { ...base, control: "select", options: [schema.const] };
  }
  if (types.length === 1 && (types[0] === "integer" || types[0] === "number")) {
    return {
      ...base,
      control: types[0] as Control,
      min: schema.minimum,
      max: schema.maximum,
      exclusiveMin: schema.exclusiveMinimum,
      exclusiveMax: schema.exclusiveMaximum,
      step: types[0] === "integer" ? 1 : undefined,
    };
  }
  if (types.length === 1 && types[0] === "boolean") return { ...base, control: "checkbox" };
  if (types.length === 1 && types[0] === "string") {
    return { ...base, control: "text", minLength: schema.minLength, maxLength: schema.maxLength, pattern: schema.pattern };
  }
  if (types.length === 1 && types[0] === "array" && schema.items) {
    const items = resolve(schema.items, root);
    const itemTypes = typesOf(items);
    if (itemTypes.length === 1 && itemTypes[0] === "string") {
      return { ...base, control: "list", itemOptions: items.enum?.map(String) };
    }
  }
  return base;
}

/** One field per property, in schema order. */
export function formModel(schema: JsonSchema | undefined | null): FieldModel[] {
  if (!schema) return [];
  const root = schema;
  const top = resolve(schema, root);
  const required = new Set(top.required ?? []);
  return Object.entries(top.properties ?? {}).map(([name, prop]) => fieldModel(name, prop, root, required.has(name)));
}

/** What the control shows for a config value (strings for inputs; booleans for checkboxes). */
export function displayValue(field: FieldModel, value: unknown): string | boolean {
  if (field.control === "checkbox") return value === undefined || value === null ? Boolean(field.default) : Boolean(value);
  if (value === undefined || value === null) return "";
  if (field.control === "list") return Array.isArray(value) ? value.join(", ") : String(value);
  if (field.control === "json") return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return String(value);
}

export interface Parsed {
  /** undefined = remove the key from the config (use the default). */
  value: unknown;
  error?: string;
}

function numberLimits(field: FieldModel, n: number): string | undefined {
  if (field.control === "integer" && !Number.isInteger(n)) return "must be a whole number";
  if (field.min !== undefined && n < field.min) return `must be at least ${field.min}`;
  if (field.max !== undefined && n > field.max) return `must be at most ${field.max}`;
  if (field.exclusiveMin !== undefined && n <= field.exclusiveMin) return `must be more than ${field.exclusiveMin}`;
  if (field.exclusiveMax !== undefined && n >= field.exclusiveMax) return `must be less than ${field.exclusiveMax}`;
  return undefined;
}

/** Parses what was typed into the config value, with the schema's limits as an error message.
 * An invalid number is kept as typed (so the server's validation names it too), with `error` set. */
export function parseInput(field: FieldModel, input: string | boolean): Parsed {
  if (field.control === "checkbox") return { value: Boolean(input) };
  const text = String(input);
  if (text.trim() === "") {
    if (field.required && !field.hasDefault) return { value: undefined, error: "required" };
    return { value: undefined };
  }
  switch (field.control) {
    case "integer":
    case "number": {
      const n = Number(text);
      if (!Number.isFinite(n)) return { value: text, error: "must be a number" };
      const error = numberLimits(field, n);
      return { value: n, error };
    }
    case "select":
      if (field.options && !field.options.includes(text)) return { value: text, error: `must be one of ${field.options.join(", ")}` };
      return { value: text };
    case "list": {
      const items = text.split(",").map((s) => s.trim()).filter(Boolean);
      const bad = field.itemOptions ? items.filter((item) => !field.itemOptions!.includes(item)) : [];
      return { value: items, error: bad.length ? `unknown: ${bad.join(", ")}` : undefined };
    }
    case "json":
      try {
        return { value: JSON.parse(text) };
      } catch {
        return { value: text, error: "must be valid JSON" };
      }
    default: {
      if (field.minLength !== undefined && text.length < field.minLength) return { value: text, error: `at least ${field.minLength} characters` };
      if (field.maxLength !== undefined && text.length > field.maxLength) return { value: text, error: `at most ${field.maxLength} characters` };
      if (field.pattern) {
        try {
          if (!new RegExp(field.pattern, "u").test(text)) return { value: text, error: `must match ${field.pattern}` };
        } catch {
          // a pattern JavaScript cannot compile is left to the server
        }
      }
      return { value: text };
    }
  }
}

/** The config with one field set (undefined removes it). */
export function withField(config: Record<string, unknown> | undefined, name: string, value: unknown): Record<string, unknown> {
  const next = { ...(config ?? {}) };
  if (value === undefined) delete next[name];
  else next[name] = value;
  return next;
}

/** Errors of a whole config against the model (client-side: types, ranges, enums, required). */
export function checkConfig(fields: FieldModel[], config: Record<string, unknown> | undefined): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const value = config?.[field.name];
    if (value === undefined || value === null) {
      if (field.required && !field.hasDefault && !field.nullable) errors[field.name] = "required";
      continue;
    }
    if (field.control === "checkbox") continue;
    const shown = displayValue(field, value);
    const parsed = parseInput(field, shown);
    if (parsed.error) errors[field.name] = parsed.error;
  }
  return errors;
}

/** "a default: x" hint for the form (undefined when the schema gives no useful default). */
export function defaultHint(field: FieldModel): string | undefined {
  if (!field.hasDefault || field.default === null || field.default === undefined) return undefined;
  if (Array.isArray(field.default) && field.default.length === 0) return undefined;
  return `default: ${typeof field.default === "object" ? JSON.stringify(field.default) : String(field.default)}`;
}

/** The object schema a "json" field really is (after $ref and nullable), when it has properties to edit. */
export function objectSchema(raw: JsonSchema, root: JsonSchema): JsonSchema | undefined {
  const { inner } = unwrapNullable(resolve(raw, root), root);
  const schema = resolve(inner, root);
  return schema.properties && Object.keys(schema.properties).length ? schema : undefined;
}

/** The alternatives an array item may be (one for a plain array; several for anyOf), resolved. */
export function itemVariants(raw: JsonSchema, root: JsonSchema): JsonSchema[] {
  const { inner } = unwrapNullable(resolve(raw, root), root);
  const schema = resolve(inner, root);
  if (!schema.items) return [];
  const items = resolve(schema.items, root);
  const alternatives = items.anyOf ?? items.oneOf;
  return (alternatives ? alternatives.map((a) => resolve(a, root)) : [items]).filter((v) => v.type !== "null");
}

/** Which variant a value is: the first whose required properties it has (else the first). */
export function variantOf(variants: JsonSchema[], value: unknown): number {
  if (!value || typeof value !== "object") return 0;
  const keys = Object.keys(value as object);
  const index = variants.findIndex((v) => (v.required ?? []).every((r) => keys.includes(r)) && (v.required ?? []).length > 0);
  return index < 0 ? 0 : index;
}

/** A new value for a schema: required properties filled (enums with their default or first option, arrays with
 * one new item, objects recursively), the rest left to their defaults. */
export function initialValue(raw: JsonSchema, root: JsonSchema, depth = 0): unknown {
  const { inner } = unwrapNullable(resolve(raw, root), root);
  const schema = resolve(inner, root);
  if (depth > 6) return undefined;
  if (schema.default !== undefined && schema.default !== null) return schema.default;
  if (schema.enum) return schema.enum[0];
  if (schema.properties) {
    const value: Record<string, unknown> = {};
    for (const name of schema.required ?? []) {
      const child = initialValue(schema.properties[name] ?? {}, root, depth + 1);
      value[name] = child === undefined ? "" : child;
    }
    return value;
  }
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.includes("array")) {
    const variants = itemVariants(schema, root);
    return variants.length ? [initialValue(variants[0], root, depth + 1)] : [];
  }
  if (types.includes("boolean")) return false;
  if (types.includes("integer") || types.includes("number")) return schema.minimum ?? 0;
  if (types.includes("string")) return "";
  return undefined;
}
