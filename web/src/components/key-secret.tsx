import { useEffect, useId, useRef, useState } from "react";
import { setProjectKey } from "../api.ts";
import { navigate } from "../router.ts";

/**
 * A just-created key's secret, shown once. It lives only in the caller's React state: "Done"
 * forgets it, and it is never logged or put in localStorage or the URL. "Use in playground" puts
 * it in session storage as the chosen project key.
 */
export function NewKeySecret(props: { name: string; secret: string; onDone: () => void }) {
  const headingId = useId();
  const [copied, setCopied] = useState<"idle" | "copied" | "failed">("idle");
  const region = useRef<HTMLElement>(null);

  // Move focus to the secret so screen readers announce it and the keyboard lands on Copy.
  useEffect(() => {
    region.current?.focus();
  }, []);

  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied("copied");
    } catch {
      // Clipboard access needs a secure context and permission; the secret is selectable anyway.
      setCopied("failed");
    }
  };

  return (
    <section className="panel new-key" aria-labelledby={headingId} ref={region} tabIndex={-1}>
      <h3 id={headingId}>New key</h3>
      <p>
        The secret of <strong>{props.name}</strong> is shown this once. Copy it now: the server keeps only a hash.
      </p>
      <div className="secret">
        <code data-testid="new-key-secret">{props.secret}</code>
        <button type="button" onClick={() => void copy()}>
          {copied === "copied" ? "Copied" : "Copy"}
        </button>
        <button
          type="button"
          onClick={() => {
            setProjectKey(props.secret);
            navigate("playground");
          }}
        >
          Use in playground
        </button>
        <button type="button" className="primary" onClick={props.onDone}>
          Done
        </button>
      </div>
      <p className="muted small" aria-live="polite">
        {copied === "copied" ? "Copied to the clipboard." : copied === "failed" ? "Could not reach the clipboard: select the key and copy it by hand." : ""}
      </p>
    </section>
  );
}
