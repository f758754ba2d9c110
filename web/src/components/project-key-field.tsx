import { useEffect, useId, useRef, useState } from "react";
import { projectKey, setProjectKey } from "../api.ts";

/**
 * The "Project key" input the playground and the objects page share. The key is saved to session
 * storage as it is typed (never localStorage or the URL); `onChange` fires once typing pauses, so
 * a page reloads its lists once per key rather than once per keystroke.
 */
export function ProjectKeyField(props: { onChange: (key: string | null) => void }) {
  const id = useId();
  const [value, setValue] = useState(() => projectKey() ?? "");
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;

  useEffect(() => () => clearTimeout(timer.current), []);

  const change = (next: string): void => {
    setValue(next);
    const key = next.trim() === "" ? null : next.trim();
    setProjectKey(key);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => onChange.current(key), 400);
  };

  return (
    <div className="key-field">
      <label htmlFor={id}>Project key</label>
      <input
        id={id}
        type="password"
        autoComplete="off"
        spellCheck={false}
        placeholder="sk-proj-…"
        aria-describedby={`${id}-hint`}
        value={value}
        onChange={(e) => change(e.target.value)}
      />
      <p id={`${id}-hint`} className="muted small">
        Kept in this tab's session storage only. Create a key on the <a href="#/projects">Projects</a> page.
      </p>
    </div>
  );
}
