import { describe, expect, it } from "vitest";
import { checkConfig, defaultHint, displayValue, formModel, humanise, parseInput, withField } from "./schemaForm";
import type { JsonSchema } from "../api/types";

// the resize node's schema as the catalog serves it (pydantic output)
const RESIZE: JsonSchema = {
  additionalProperties: false,
  properties: {
    width: { anyOf: [{ maximum: 16384, minimum: 1, type: "integer" }, { type: "null" }], default: null, title: "Width" },
    fit: { default: "inside", enum: ["inside", "outside", "cover", "contain", "fill"], title: "Fit", type: "string" },
    withoutEnlargement: { default: true, title: "Withoutenlargement", type: "boolean" },
    background: { default: "#00000000", pattern: "^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$", type: "string", description: "Padding colour" },
    quality: { type: "number", exclusiveMinimum: 0, maximum: 1 },
    formats: { type: "array", items: { type: "string", enum: ["webp", "avif"] } },
  },
  required: ["fit"],
  title: "Config",
  type: "object",
};

const BRANCH: JsonSchema = {
  $defs: {
    Op: { enum: ["eq", "ne"], type: "string" },
    Group: { properties: { logic: { $ref: "#/$defs/Op" } }, type: "object" },
  },
  properties: {
    conditions: { anyOf: [{ $ref: "#/$defs/Group" }, { type: "null" }], default: null },
    op: { $ref: "#/$defs/Op", default: "eq" },
  },
  type: "object",
};

describe("formModel", () => {
  const fields = formModel(RESIZE);
  const by = (name: string) => fields.find((f) => f.name === name)!;

  it("makes one field per property in schema order", () => {
    expect(fields.map((f) => f.name)).toEqual(["width", "fit", "withoutEnlargement", "background", "quality", "formats"]);
  });

  it("unwraps a nullable integer and keeps its range", () => {
    expect(by("width")).toMatchObject({ control: "integer", nullable: true, min: 1, max: 16384, step: 1, hasDefault: true, default: null });
  });

  it("turns enums into selects with their default", () => {
    expect(by("fit")).toMatchObject({ control: "select", options: ["inside", "outside", "cover", "contain", "fill"], default: "inside", required: true });
  });

  it("maps booleans, patterned strings, exclusive ranges and string lists", () => {
    expect(by("withoutEnlargement").control).toBe("checkbox");
    expect(by("background")).toMatchObject({ control: "text", pattern: "^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$", description: "Padding colour" });
    expect(by("quality")).toMatchObject({ control: "number", exclusiveMin: 0, max: 1 });
    expect(by("formats")).toMatchObject({ control: "list", itemOptions: ["webp", "avif"] });
  });

  it("follows $ref into $defs; an object it cannot flatten is edited as JSON", () => {
    const branch = formModel(BRANCH);
    expect(branch.find((f) => f.name === "op")).toMatchObject({ control: "select", options: ["eq", "ne"], default: "eq" });
    expect(branch.find((f) => f.name === "conditions")).toMatchObject({ control: "json", nullable: true });
  });

  it("labels fields for people", () => {
    expect(by("withoutEnlargement").label).toBe("Without enlargement");
    expect(humanise("outputFormat")).toBe("Output format");
    expect(humanise("max_size")).toBe("Max size");
    expect(humanise("HLSSegment")).toBe("Hls segment");
  });

  it("shows defaults as hints", () => {
    expect(defaultHint(by("fit"))).toBe("default: inside");
    expect(defaultHint(by("width"))).toBeUndefined();
    expect(formModel(undefined)).toEqual([]);
  });
});

describe("parseInput", () => {
  const fields = formModel(RESIZE);
  const by = (name: string) => fields.find((f) => f.name === name)!;

  it("parses numbers in range", () => {
    expect(parseInput(by("width"), "320")).toEqual({ value: 320, error: undefined });
  });

  it("enforces the range, keeping the typed value for the server to name too", () => {
    expect(parseInput(by("width"), "0")).toEqual({ value: 0, error: "must be at least 1" });
    expect(parseInput(by("width"), "20000")).toEqual({ value: 20000, error: "must be at most 16384" });
    expect(parseInput(by("width"), "1.5").error).toBe("must be a whole number");
    expect(parseInput(by("width"), "abc")).toEqual({ value: "abc", error: "must be a number" });
    expect(parseInput(by("quality"), "0").error).toBe("must be more than 0");
  });

  it("empties a field back to its default", () => {
    expect(parseInput(by("width"), "")).toEqual({ value: undefined });
    expect(withField({ width: 3, fit: "cover" }, "width", undefined)).toEqual({ fit: "cover" });
  });

  it("checks enums, patterns, lists and JSON", () => {
    expect(parseInput(by("fit"), "cover")).toEqual({ value: "cover" });
    expect(parseInput(by("fit"), "stretch").error).toMatch(/must be one of/);
    expect(parseInput(by("background"), "#ffffff")).toEqual({ value: "#ffffff" });
    expect(parseInput(by("background"), "red").error).toMatch(/must match/);
    expect(parseInput(by("formats"), "webp, avif")).toEqual({ value: ["webp", "avif"], error: undefined });
    expect(parseInput(by("formats"), "webp, gif").error).toBe("unknown: gif");
    const json = formModel(BRANCH).find((f) => f.name === "conditions")!;
    expect(parseInput(json, '{"logic": "and"}')).toEqual({ value: { logic: "and" } });
    expect(parseInput(json, "{").error).toBe("must be valid JSON");
    expect(parseInput(by("withoutEnlargement"), false)).toEqual({ value: false });
  });

  it("checks a whole config and round-trips display values", () => {
    expect(checkConfig(fields, { width: 0, fit: "cover", formats: ["webp"] })).toEqual({ width: "must be at least 1" });
    expect(checkConfig(fields, { fit: "cover" })).toEqual({});
    expect(displayValue(by("formats"), ["webp", "avif"])).toBe("webp, avif");
    expect(displayValue(by("withoutEnlargement"), undefined)).toBe(true);
    expect(displayValue(by("width"), null)).toBe("");
  });
});

describe("nested schemas (a branch's conditions)", () => {
  const CONDITIONS: JsonSchema = {
    $defs: {
      Condition: { properties: { field: { type: "string" }, op: { default: "eq", enum: ["eq", "gt"], type: "string" }, value: {} }, required: ["field", "value"], title: "Condition", type: "object" },
      ConditionGroup: {
        properties: {
          logic: { default: "and", enum: ["and", "or"], type: "string" },
          conditions: { items: { anyOf: [{ $ref: "#/$defs/Condition" }, { $ref: "#/$defs/ConditionGroup" }] }, minItems: 1, type: "array" },
        },
        required: ["conditions"], title: "ConditionGroup", type: "object",
      },
    },
    properties: { conditions: { anyOf: [{ $ref: "#/$defs/ConditionGroup" }, { type: "null" }], default: null } },
    type: "object",
  };

  it("finds the object behind a nullable $ref and the alternatives of its items", async () => {
    const { objectSchema, itemVariants } = await import("./schemaForm");
    const group = objectSchema(CONDITIONS.properties!.conditions, CONDITIONS)!;
    expect(Object.keys(group.properties!)).toEqual(["logic", "conditions"]);
    expect(itemVariants(group.properties!.conditions, CONDITIONS).map((v) => v.title)).toEqual(["Condition", "ConditionGroup"]);
    expect(objectSchema({ type: "string" }, CONDITIONS)).toBeUndefined();
  });

  it("tells which alternative a value is and makes new values with the required parts", async () => {
    const { itemVariants, variantOf, initialValue, objectSchema } = await import("./schemaForm");
    const group = objectSchema(CONDITIONS.properties!.conditions, CONDITIONS)!;
    const variants = itemVariants(group.properties!.conditions, CONDITIONS);
    expect(variantOf(variants, { field: "size", value: 1 })).toBe(0);
    expect(variantOf(variants, { conditions: [] })).toBe(1);
    expect(variantOf(variants, "x")).toBe(0);
    expect(initialValue(variants[0], CONDITIONS)).toEqual({ field: "", value: "" });
    expect(initialValue(group, CONDITIONS)).toEqual({ conditions: [{ field: "", value: "" }] });
  });
});
