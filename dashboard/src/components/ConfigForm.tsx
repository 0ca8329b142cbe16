import { useEffect, useMemo, useState } from "react";
import type { CatalogNode, WfNode } from "../api/types";
import { defaultHint, displayValue, formModel, initialValue, objectSchema, parseInput, withField, type FieldModel } from "../lib/schemaForm";
import { ObjectEditor } from "./NestedEditor";

/** The config of one node, as a form generated from its catalog JSON Schema. Every change goes to the draft at
 * once (the builder's live check validates it); what the schema forbids is flagged on the field straight away. */
export function ConfigForm({ node, spec, serverErrors, onChange }: {
  node: WfNode;
  spec: CatalogNode | undefined;
  serverErrors: Record<string, string>;
  onChange: (config: Record<string, unknown>) => void;
}) {
  const fields = useMemo(() => formModel(spec?.configSchema), [spec]);
  const [typed, setTyped] = useState<Record<string, string>>({});
  const [clientErrors, setClientErrors] = useState<Record<string, string>>({});
  useEffect(() => {
    setTyped({});
    setClientErrors({});
  }, [node.id]);

  if (!spec) return <p className="muted">No catalog entry for the kind <code>{node.kind}</code>.</p>;
  if (!fields.length) return <p className="muted">{node.kind} has nothing to configure.</p>;

  const config = node.config ?? {};
  const set = (field: FieldModel, input: string | boolean) => {
    const parsed = parseInput(field, input);
    if (typeof input === "string") setTyped((t) => ({ ...t, [field.name]: input }));
    setClientErrors((errors) => {
      const next = { ...errors };
      if (parsed.error) next[field.name] = parsed.error;
      else delete next[field.name];
      return next;
    });
    onChange(withField(config, field.name, parsed.value));
  };

  return (
    <form aria-label={`Config of ${node.id}`} data-testid="node-form" onSubmit={(e) => e.preventDefault()} noValidate>
      {fields.map((field) => {
        const id = `f-${node.id}-${field.name}`;
        const error = clientErrors[field.name] ?? serverErrors[field.name];
        const hint = [field.description, defaultHint(field), rangeText(field)].filter(Boolean).join(" · ");
        const describedBy = [error ? `${id}-error` : "", hint ? `${id}-hint` : ""].filter(Boolean).join(" ") || undefined;
        const shown = typed[field.name] ?? displayValue(field, config[field.name]);
        const common = {
          id,
          "aria-invalid": error ? (true as const) : undefined,
          "aria-describedby": describedBy,
          "aria-required": field.required && !field.hasDefault ? (true as const) : undefined,
        };
        let control;
        switch (field.control) {
          case "checkbox":
            control = <input type="checkbox" {...common} checked={Boolean(displayValue(field, config[field.name]))} onChange={(e) => set(field, e.target.checked)} />;
            break;
          case "select":
            control = (
              <select {...common} value={String(shown)} onChange={(e) => set(field, e.target.value)}>
                <option value="">{field.hasDefault && field.default !== null && field.default !== undefined ? `(default: ${String(field.default)})` : "(not set)"}</option>
                {field.options!.map((o) => <option key={o} value={o}>{o}</option>)}
              </select>
            );
            break;
          case "integer":
          case "number":
            control = (
              <input type="number" inputMode={field.control === "integer" ? "numeric" : "decimal"} {...common}
                min={field.min} max={field.max} step={field.step ?? "any"} value={String(shown)}
                placeholder={field.default !== null && field.default !== undefined ? String(field.default) : ""}
                onChange={(e) => set(field, e.target.value)} />
            );
            break;
          case "json": {
            const nested = spec.configSchema.properties?.[field.name] ? objectSchema(spec.configSchema.properties[field.name], spec.configSchema) : undefined;
            const current = config[field.name];
            if (nested && !typed[field.name] && (current === undefined || current === null || (typeof current === "object" && !Array.isArray(current)))) {
              return (
                <div key={field.name} className="field">
                  {current && typeof current === "object"
                    ? <ObjectEditor schema={nested} root={spec.configSchema} value={current as Record<string, unknown>} id={id} legend={field.label}
                        onChange={(next) => onChange(withField(config, field.name, next))} />
                    : <button type="button" onClick={() => onChange(withField(config, field.name, initialValue(nested, spec.configSchema)))}>Add {field.label.toLowerCase()}</button>}
                  <button type="button" className="link small" onClick={() => setTyped((t) => ({ ...t, [field.name]: displayValue(field, current) as string }))}>Edit {field.label.toLowerCase()} as JSON</button>
                  {hint && <p id={`${id}-hint`} className="hint">{hint}</p>}
                  {error && <p id={`${id}-error`} className="field-error" data-testid={`field-error-${field.name}`}>{error}</p>}
                </div>
              );
            }
            control = <textarea {...common} rows={4} value={String(shown)} spellCheck={false} onChange={(e) => set(field, e.target.value)} />;
            break;
          }
          default:
            control = (
              <input type="text" {...common} value={String(shown)} maxLength={field.maxLength}
                placeholder={typeof field.default === "string" ? field.default : field.control === "list" ? "comma, separated" : ""}
                onChange={(e) => set(field, e.target.value)} />
            );
        }
        return (
          <div key={field.name} className={`field ${field.control === "checkbox" ? "field-check" : ""}`}>
            <label htmlFor={id}>{field.label}{field.required && !field.hasDefault ? " *" : ""}</label>
            {control}
            {hint && <p id={`${id}-hint`} className="hint">{hint}</p>}
            {error && <p id={`${id}-error`} className="field-error" data-testid={`field-error-${field.name}`}>{error}</p>}
          </div>
        );
      })}
    </form>
  );
}

function rangeText(field: FieldModel): string | undefined {
  if (field.min !== undefined && field.max !== undefined) return `${field.min}-${field.max}`;
  if (field.min !== undefined) return `min ${field.min}`;
  if (field.max !== undefined) return `max ${field.max}`;
  return undefined;
}
