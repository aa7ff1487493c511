import { useId, useState, type FormEvent } from "react";
import {
  FILTER_KEYS,
  FILTER_LABELS,
  filterErrors,
  fromDatetimeLocal,
  toDatetimeLocal,
  type FilterKey,
  type TimelineFilters,
} from "./filters";

const PLACEHOLDERS: Partial<Record<FilterKey, string>> = {
  category: "shoppinglist",
  stream: "shoppinglist-home",
  type: "ItemListed",
  actor: "user:…, token:…, saga:…",
  correlation_id: "UUID",
  q: "words in the event",
};

/** The filter fields; applied (into the URL) on submit, not per keystroke. */
export function FilterForm({
  filters,
  onApply,
}: {
  filters: TimelineFilters;
  onApply: (filters: TimelineFilters) => void;
}) {
  const id = useId();
  const [draft, setDraft] = useState<TimelineFilters>(filters);
  const [errors, setErrors] = useState<Partial<Record<FilterKey, string>>>({});

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = filterErrors(draft);
    setErrors(found);
    if (Object.keys(found).length === 0) {
      onApply(draft);
    }
  };

  return (
    <form className="filters" onSubmit={submit} aria-label="Filter the timeline">
      {FILTER_KEYS.map((key) => {
        const inputId = `${id}-${key}`;
        const errorId = `${inputId}-error`;
        const isTime = key === "from" || key === "until";
        return (
          <div className="field" key={key}>
            <label htmlFor={inputId}>{FILTER_LABELS[key]}</label>
            <input
              id={inputId}
              name={key}
              type={isTime ? "datetime-local" : key === "q" ? "search" : "text"}
              value={isTime ? toDatetimeLocal(draft[key]) : (draft[key] ?? "")}
              placeholder={PLACEHOLDERS[key]}
              spellCheck={false}
              aria-invalid={errors[key] ? true : undefined}
              aria-describedby={errors[key] ? errorId : undefined}
              onChange={(event) => {
                const value = isTime ? fromDatetimeLocal(event.target.value) : event.target.value;
                setDraft((current) => ({ ...current, [key]: value }));
              }}
            />
            {errors[key] ? (
              <small id={errorId} className="error">
                {errors[key]}
              </small>
            ) : null}
          </div>
        );
      })}
      <div className="actions">
        <button type="submit">Apply filters</button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setDraft({});
            setErrors({});
            onApply({});
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}
