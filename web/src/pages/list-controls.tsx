/**
 * The pieces the list pages (audit, tasks) share: the error line, a toolbar with a words filter
 * and a choice filter, the row a table shows when nothing matches, and the button that loads the
 * next page.
 */
import type { ComponentChildren } from "preact";

export function ErrorLine({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

export function Toolbar({ children }: { children: ComponentChildren }) {
  return <div class="toolbar">{children}</div>;
}

/** A search box: the caller matches its words (case-insensitive, every word) itself. */
export function WordsFilter(props: {
  label: string;
  value: string;
  placeholder: string;
  onChange: (words: string) => void;
}) {
  return (
    <label>
      {props.label}{" "}
      <input
        type="search"
        value={props.value}
        placeholder={props.placeholder}
        onInput={(e) => props.onChange(e.currentTarget.value)}
      />
    </label>
  );
}

/** One of `choices`, or "" for any. */
export function ChoiceFilter(props: {
  label: string;
  value: string;
  choices: readonly string[];
  onChange: (choice: string) => void;
}) {
  return (
    <label>
      {props.label}{" "}
      <select value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">any</option>
        {props.choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The table's only row when it has none to show. */
export function EmptyRow({ columns, children }: { columns: number; children: ComponentChildren }) {
  return (
    <tr>
      <td colSpan={columns} class="muted">
        {children}
      </td>
    </tr>
  );
}

/** Loads the next page, while there is one (`cursor`). */
export function MoreButton(props: {
  cursor: string | null;
  label: string;
  onMore: (cursor: string) => void;
}) {
  const { cursor } = props;
  if (!cursor) return null;
  return (
    <button type="button" class="quiet" onClick={() => props.onMore(cursor)}>
      {props.label}
    </button>
  );
}
