/** Nested config (objects, arrays of objects or of alternatives, such as a branch's condition groups) edited as
 * nested fieldsets generated from the schema, so that enums stay selects and numbers keep their ranges. */
import { useState } from "react";
import type { JsonSchema } from "../api/types";
import { canonical } from "../lib/diff";
import {
  displayValue, fieldModel, humanise, initialValue, itemVariants, objectSchema, parseInput, resolve, variantOf,
  type FieldModel,
} from "../lib/schemaForm";

type Obj = Record<string, unknown>;

export function ObjectEditor({ schema, root, value, onChange, id, legend }: {
  schema: JsonSchema;
  root: JsonSchema;
  value: Obj;
  onChange: (value: Obj) => void;
  id: string;
  legend: string;
}) {
  const required = new Set(schema.required ?? []);
  return (
    <fieldset className="nested">
      <legend>{legend}</legend>
      {Object.entries(schema.properties ?? {}).map(([name, prop]) => {
        const childId = `${id}-${name}`;
        const set = (next: unknown) => {
          const copy = { ...value };
          if (next === undefined) delete copy[name];
          else copy[name] = next;
          onChange(copy);
        };
        const child = objectSchema(prop, root);
        if (child) {
          const current = value[name];
          return current && typeof current === "object" && !Array.isArray(current)
            ? <ObjectEditor key={name} schema={child} root={root} value={current as Obj} onChange={set} id={childId} legend={humanise(name)} />
            : <button key={name} type="button" onClick={() => set(initialValue(child, root))}>Add {humanise(name).toLowerCase()}</button>;
        }
        const variants = itemVariants(prop, root);
        if (variants.length && variants.every((v) => objectSchema(v, root))) {
          return <ArrayEditor key={name} variants={variants} root={root} value={Array.isArray(value[name]) ? (value[name] as unknown[]) : []}
            onChange={set} id={childId} label={humanise(name)} />;
        }
        return <Primitive key={name} field={fieldModel(name, prop, root, required.has(name))} value={value[name]} onChange={set} id={childId} />;
      })}
    </fieldset>
  );
}

function variantName(schema: JsonSchema, index: number): string {
  return (schema.title ?? `option ${index + 1}`).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

function ArrayEditor({ variants, root, value, onChange, id, label }: {
  variants: JsonSchema[];
  root: JsonSchema;
  value: unknown[];
  onChange: (value: unknown[]) => void;
  id: string;
  label: string;
}) {
  const singular = label.replace(/s$/, "").toLowerCase();
  return (
    <div className="nested-array" role="group" aria-label={label}>
      <div className="nested-array-head">{label}</div>
      {value.map((item, index) => {
        const variant = variants[variantOf(variants, item)];
        const noun = variants.length > 1 ? variantName(variant, 0) : singular;
        const name = `${noun.charAt(0).toUpperCase()}${noun.slice(1)} ${index + 1}`;
        return (
          // items have no identity of their own: their place is their key
          <div key={`${id}-${index}`} className="nested-item">
            <ObjectEditor schema={resolve(variant, root)} root={root} value={(item && typeof item === "object" ? item : {}) as Obj}
              onChange={(next) => onChange(value.map((v, i) => (i === index ? next : v)))} id={`${id}-${index}`}
              legend={name} />
            <button type="button" className="link small" aria-label={`Remove ${name.toLowerCase()}`}
              onClick={() => onChange(value.filter((_, i) => i !== index))}>Remove</button>
          </div>
        );
      })}
      <div className="actions">
        {variants.map((variant, index) => (
          <button key={variantName(variant, index)} type="button" className="small"
            onClick={() => onChange([...value, initialValue(variant, root)])}>
            Add {variants.length > 1 ? variantName(variant, index) : singular}
          </button>
        ))}
      </div>
    </div>
  );
}

/** A leaf: the same controls as the top-level form; a value of no declared type is a number, JSON or text. */
function Primitive({ field, value, onChange, id }: { field: FieldModel; value: unknown; onChange: (v: unknown) => void; id: string }) {
  // what was typed, kept only while it is still what the value came from (items move when one is removed)
  const [typed, setTyped] = useState<{ text: string; value: string }>();
  const [error, setError] = useState<string>();
  const untyped = field.control === "json";
  const fresh = typed && typed.value === canonical(value) ? typed.text : undefined;
  const shown = fresh ?? (untyped ? (value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value)) : displayValue(field, value));
  const set = (input: string | boolean) => {
    if (untyped) {
      const text = String(input);
      let parsed: unknown = text;
      try {
        parsed = text.trim() === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = text;
      }
      setTyped({ text, value: canonical(parsed) });
      setError(undefined);
      onChange(parsed);
      return;
    }
    const result = parseInput(field, input);
    if (typeof input === "string") setTyped({ text: input, value: canonical(result.value) });
    setError(result.error);
    onChange(result.value);
  };
  const common = { id, "aria-invalid": error ? (true as const) : undefined, "aria-describedby": error ? `${id}-error` : field.description ? `${id}-hint` : undefined };
  let control;
  if (field.control === "checkbox") control = <input type="checkbox" {...common} checked={Boolean(displayValue(field, value))} onChange={(e) => set(e.target.checked)} />;
  else if (field.control === "select") {
    control = (
      <select {...common} value={String(shown)} onChange={(e) => set(e.target.value)}>
        {!field.required && <option value="">(default{field.default !== undefined && field.default !== null ? `: ${String(field.default)}` : ""})</option>}
        {field.options!.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    );
  } else if (field.control === "integer" || field.control === "number") {
    control = <input type="number" {...common} min={field.min} max={field.max} step={field.step ?? "any"} value={String(shown)} onChange={(e) => set(e.target.value)} />;
  } else control = <input type="text" {...common} value={String(shown)} onChange={(e) => set(e.target.value)} />;
  return (
    <div className={`field ${field.control === "checkbox" ? "field-check" : ""}`}>
      <label htmlFor={id}>{field.label}</label>
      {control}
      {field.description && <p id={`${id}-hint`} className="hint">{field.description}</p>}
      {error && <p id={`${id}-error`} className="field-error">{error}</p>}
    </div>
  );
}
