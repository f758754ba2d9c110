import { useState } from "react";
import { PageHeader } from "../components/common.tsx";
import { ProjectKeyField } from "../components/project-key-field.tsx";
import { BatchesTab } from "./objects-batches.tsx";
import { FilesTab, VectorStoresTab } from "./objects-lists.tsx";
import { ResponsesTab } from "./objects-responses.tsx";

const TABS = [
  ["batches", "Batches"],
  ["files", "Files"],
  ["stores", "Vector stores"],
  ["responses", "Responses"],
] as const;

type Tab = (typeof TABS)[number][0];

/** A project's batches, files, vector stores and responses, read with the chosen project key. */
export function ObjectsPage() {
  const [tab, setTab] = useState<Tab>("batches");
  // Bumped by Refresh and by a new project key: every tab reloads on it.
  const [tick, setTick] = useState(0);
  const refresh = (): void => setTick((t) => t + 1);

  return (
    <>
      <PageHeader title="Batches, files, stores">
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </PageHeader>
      <div className="panel">
        <ProjectKeyField onChange={refresh} />
      </div>
      <div role="group" aria-label="Object type" className="segmented tabs">
        {TABS.map(([value, label]) => (
          <button key={value} type="button" aria-pressed={tab === value} aria-controls="objects-panel" onClick={() => setTab(value)}>
            {label}
          </button>
        ))}
      </div>
      <section id="objects-panel" aria-label={TABS.find(([v]) => v === tab)?.[1]}>
        {tab === "batches" && <BatchesTab tick={tick} />}
        {tab === "files" && <FilesTab tick={tick} />}
        {tab === "stores" && <VectorStoresTab tick={tick} />}
        {tab === "responses" && <ResponsesTab tick={tick} />}
      </section>
    </>
  );
}
