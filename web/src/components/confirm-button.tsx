import { useState } from "react";

/**
 * A destructive action that takes two clicks: the first turns the button into its confirm form
 * (same element, so focus stays on it), the second runs the action. Leaving the button (blur or
 * Escape) disarms it, so a stray click later never confirms. No window.confirm.
 */
export function ConfirmButton(props: { label: string; confirmLabel: string; onConfirm: () => Promise<void> | void; disabled?: boolean }) {
  const [armed, setArmed] = useState(false);
  const [busy, setBusy] = useState(false);

  const click = async (): Promise<void> => {
    if (!armed) {
      setArmed(true);
      return;
    }
    setBusy(true);
    try {
      await props.onConfirm();
    } finally {
      setBusy(false);
      setArmed(false);
    }
  };

  return (
    <button
      type="button"
      className="danger"
      disabled={props.disabled === true || busy}
      onClick={() => void click()}
      onBlur={() => setArmed(false)}
      onKeyDown={(e) => {
        if (e.key === "Escape") setArmed(false);
      }}
    >
      {armed ? props.confirmLabel : props.label}
    </button>
  );
}
