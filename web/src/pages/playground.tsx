import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { streamChat, type StreamResult, type ToolCall } from "../components/chat-stream.ts";
import { ErrorBox, errorText, formatNumber, PageHeader, useAsync } from "../components/common.tsx";
import { usableModelIds } from "../components/model-ids.ts";
import { ProjectKeyField } from "../components/project-key-field.tsx";

interface Turn {
  role: "user" | "assistant";
  content: string;
  toolCalls?: ToolCall[];
  stopped?: boolean;
}

interface Stats {
  prompt: number | null;
  completion: number | null;
  ttftMs: number | null;
  totalMs: number;
}

/** Parses an optional JSON field; undefined when empty, an error message when invalid. */
function parseJson(text: string, label: string, expect: "array" | "object"): { value?: unknown; error?: string } {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: `${label} is not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  const ok = expect === "array" ? Array.isArray(value) : typeof value === "object" && value !== null && !Array.isArray(value);
  return ok ? { value } : { error: `${label} must be a JSON ${expect === "array" ? 'array of tools, like [{"type": "function", "function": {"name": "…"}}]' : 'object, like {"type": "json_object"}'}.` };
}

/** A chat with any model through the project key, streamed, with timing and token counts. */
export function PlaygroundPage() {
  const id = useId();
  const [keyVersion, setKeyVersion] = useState(0);
  const models = useAsync((signal) => usableModelIds(signal), [keyVersion]);
  const [model, setModel] = useState("");
  const [system, setSystem] = useState("");
  const [temperature, setTemperature] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [tools, setTools] = useState("");
  const [responseFormat, setResponseFormat] = useState("");
  const [message, setMessage] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [partial, setPartial] = useState<StreamResult | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const controller = useRef<AbortController | null>(null);
  const log = useRef<HTMLDivElement>(null);
  // Bumped by Clear, so a stream it stopped does not put its turn back afterwards.
  const epoch = useRef(0);

  const modelList = models.data ?? [];
  const chosen = modelList.includes(model) ? model : (modelList[0] ?? "");
  const streaming = partial !== null;

  // Keep the newest text in view as it streams.
  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [turns, partial]);

  // Leaving the page stops a stream still running.
  useEffect(() => () => controller.current?.abort(), []);

  const send = async (e?: FormEvent): Promise<void> => {
    e?.preventDefault();
    if (streaming || message.trim() === "" || chosen === "") return;
    setError(null);
    const toolsJson = parseJson(tools, "Tools (JSON)", "array");
    const formatJson = parseJson(responseFormat, "Response format (JSON)", "object");
    const invalid = toolsJson.error ?? formatJson.error;
    if (invalid !== undefined) {
      setError(invalid);
      return;
    }
    const user: Turn = { role: "user", content: message };
    const history = [...turns, user];
    // Earlier tool calls are sent as text only: without tool results the API would refuse them.
    const messages = [...(system.trim() === "" ? [] : [{ role: "system", content: system }]), ...history.map((t) => ({ role: t.role, content: t.content }))];
    const body: Record<string, unknown> = { model: chosen, messages };
    if (temperature.trim() !== "") body.temperature = Number(temperature);
    if (maxTokens.trim() !== "") body.max_tokens = Number(maxTokens);
    if (toolsJson.value !== undefined) body.tools = toolsJson.value;
    if (formatJson.value !== undefined) body.response_format = formatJson.value;

    setTurns(history);
    setMessage("");
    const abort = new AbortController();
    controller.current = abort;
    let last: StreamResult = { content: "", toolCalls: [], usage: null, finishReason: null, ttftMs: null, totalMs: 0 };
    setPartial(last);
    const started = epoch.current;
    let stopped = false;
    let failed = false;
    try {
      last = await streamChat(body, abort.signal, (p) => {
        last = p;
        setPartial(p);
      });
    } catch (err) {
      if (abort.signal.aborted) stopped = true;
      else {
        failed = true;
        setError(errorText(err));
      }
    }
    controller.current = null;
    setPartial(null);
    if (epoch.current !== started) return;
    // A refused request (a 400, say) gives the message back to edit, rather than a turn without answer.
    if (failed && last.content === "" && last.toolCalls.length === 0) {
      setTurns(turns);
      setMessage(user.content);
      return;
    }
    const calls = last.toolCalls.filter((c): c is ToolCall => c !== undefined);
    if (last.content !== "" || calls.length > 0 || stopped) setTurns([...history, { role: "assistant", content: last.content, toolCalls: calls, stopped }]);
    if (!stopped && last.totalMs > 0) setStats({ prompt: last.usage?.prompt_tokens ?? null, completion: last.usage?.completion_tokens ?? null, ttftMs: last.ttftMs, totalMs: last.totalMs });
  };

  const clear = (): void => {
    epoch.current++;
    controller.current?.abort();
    setTurns([]);
    setStats(null);
    setError(null);
  };

  const tokensPerSecond = stats === null || stats.completion === null ? null : stats.completion / (Math.max(1, stats.totalMs - (stats.ttftMs ?? 0)) / 1000);

  return (
    <>
      <PageHeader title="Playground">
        <button type="button" onClick={clear} disabled={turns.length === 0 && !streaming}>
          Clear
        </button>
      </PageHeader>
      <div className="playground">
        <div className="playground-settings panel">
          <ProjectKeyField onChange={() => setKeyVersion((v) => v + 1)} />
          <label htmlFor={`${id}-model`}>Model</label>
          <select id={`${id}-model`} value={chosen} onChange={(e) => setModel(e.target.value)}>
            {modelList.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
          <ErrorBox error={models.error} />
          <label htmlFor={`${id}-system`}>System prompt</label>
          <textarea id={`${id}-system`} value={system} onChange={(e) => setSystem(e.target.value)} rows={3} />
          <div className="form-row">
            <div>
              <label htmlFor={`${id}-temp`}>Temperature</label>
              <input id={`${id}-temp`} type="number" min={0} max={2} step={0.1} inputMode="decimal" value={temperature} onChange={(e) => setTemperature(e.target.value)} placeholder="default" />
            </div>
            <div>
              <label htmlFor={`${id}-max`}>Max tokens</label>
              <input id={`${id}-max`} type="number" min={1} step={1} inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} placeholder="default" />
            </div>
          </div>
          <label htmlFor={`${id}-tools`}>Tools (JSON)</label>
          <textarea id={`${id}-tools`} value={tools} onChange={(e) => setTools(e.target.value)} rows={3} placeholder='[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]' spellCheck={false} />
          <label htmlFor={`${id}-format`}>Response format (JSON)</label>
          <textarea id={`${id}-format`} value={responseFormat} onChange={(e) => setResponseFormat(e.target.value)} rows={2} placeholder='{"type": "json_object"}' spellCheck={false} />
        </div>
        <div className="playground-chat">
          <div className="chat-log" role="log" aria-label="Conversation" aria-live="polite" aria-busy={streaming} ref={log} tabIndex={0}>
            {turns.length === 0 && !streaming && <p className="muted">Send a message to start.</p>}
            {turns.map((t, i) => (
              <TurnView key={i} turn={t} />
            ))}
            {partial !== null && <TurnView turn={{ role: "assistant", content: partial.content, toolCalls: partial.toolCalls.filter((c): c is ToolCall => c !== undefined) }} pending />}
          </div>
          <ErrorBox error={error} />
          <form onSubmit={(e) => void send(e)}>
            <label htmlFor={`${id}-message`}>Message</label>
            <textarea
              id={`${id}-message`}
              value={message}
              onChange={(e) => setMessage(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
                  e.preventDefault();
                  void send();
                }
              }}
              rows={3}
              aria-describedby={`${id}-send-hint`}
            />
            <div className="form-row actions-row">
              <button type="submit" className="primary" disabled={streaming || message.trim() === "" || chosen === ""}>
                Send
              </button>
              <button type="button" onClick={() => controller.current?.abort()} disabled={!streaming}>
                Stop
              </button>
              <span id={`${id}-send-hint`} className="muted small">
                Ctrl+Enter or ⌘+Enter sends.
              </span>
            </div>
          </form>
          {stats !== null && (
            <dl className="stats" aria-label="Last response stats">
              <div>
                <dt>Prompt tokens</dt>
                <dd>{formatNumber(stats.prompt)}</dd>
              </div>
              <div>
                <dt>Completion tokens</dt>
                <dd>{formatNumber(stats.completion)}</dd>
              </div>
              <div>
                <dt>Time to first token</dt>
                <dd>{stats.ttftMs === null ? "—" : `${formatNumber(stats.ttftMs)} ms`}</dd>
              </div>
              <div>
                <dt>Total time</dt>
                <dd>{formatNumber(stats.totalMs)} ms</dd>
              </div>
              <div>
                <dt>Tokens/s</dt>
                <dd title="Completion tokens over the time after the first token">{formatNumber(tokensPerSecond, 1)}</dd>
              </div>
            </dl>
          )}
        </div>
      </div>
    </>
  );
}

function TurnView(props: { turn: Turn; pending?: boolean }) {
  const t = props.turn;
  return (
    <div className={`msg ${t.role}`}>
      <span className="msg-role">{t.role === "user" ? "You" : "Assistant"}</span>
      {t.content !== "" && <div>{t.content}</div>}
      {props.pending === true && t.content === "" && (t.toolCalls ?? []).length === 0 && <div className="muted">…</div>}
      {(t.toolCalls ?? []).map((c, i) => (
        <div key={c.id !== "" ? c.id : i} className="tool-call">
          <span className="muted small">Tool call</span> <code>{c.name}</code>
          <pre>{c.arguments}</pre>
        </div>
      ))}
      {t.stopped === true && <div className="muted small">(stopped)</div>}
    </div>
  );
}
