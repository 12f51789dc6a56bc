import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { AgentHealth, WorkerHealth } from "../../api/intake";
import { AgentsPanel, WorkersPanel, type Fetched } from "./IntakeHealth";

afterEach(cleanup);

const FETCHED_AT = Date.parse("2026-01-01T12:00:00Z");

function worker(over: Partial<WorkerHealth>): WorkerHealth {
  return {
    executor_id: "ed-1:8001",
    host: "ed-1",
    pid: 101,
    started_at: "2026-01-01T11:00:00Z",
    heartbeat_at: "2026-01-01T11:59:58Z",
    silent_seconds: 2,
    alive: true,
    runs_in_flight: 0,
    taken_over_by: null,
    taken_over_at: null,
    runs_taken_over: 0,
    ...over,
  };
}

function workers(data: WorkerHealth[] | null, error: string | null = null, msLater = 0) {
  const fetched: Fetched<WorkerHealth[]> = { data, at: FETCHED_AT, error };
  render(<WorkersPanel fetched={fetched} now={FETCHED_AT + msLater} />);
  return screen.getByRole("region", { name: "Intake workers" });
}

function row(panel: HTMLElement, executorId: string) {
  const tr = panel.querySelector(`tr[data-worker="${executorId}"]`);
  if (!(tr instanceof HTMLElement)) throw new Error(`no row for ${executorId}`);
  return tr;
}

describe("WorkersPanel", () => {
  it("shows an alive worker with its runs in flight and a silent one with who took over its runs", () => {
    const panel = workers([
      worker({ runs_in_flight: 3 }),
      worker({
        executor_id: "ed-2:8002",
        host: "ed-2",
        alive: false,
        silent_seconds: 3600,
        taken_over_by: "ed-1:8001",
        taken_over_at: "2026-01-01T11:01:00Z",
        runs_taken_over: 7,
      }),
    ]);
    const alive = row(panel, "ed-1:8001");
    expect(within(alive).getByTestId("worker-state").textContent).toBe("alive");
    expect(within(alive).getByTestId("worker-silent-for").textContent).toBe("2 s ago");
    expect(alive.textContent).toContain("ed-1 · pid 101");
    expect(within(alive).getAllByRole("cell")[2]?.textContent).toBe("3");
    const dead = row(panel, "ed-2:8002");
    expect(within(dead).getByTestId("worker-state").textContent).toBe("silent");
    expect(within(dead).getByTestId("worker-silent-for").textContent).toBe("1 h 0 min ago");
    expect(within(dead).getByTestId("worker-takeover").textContent).toMatch(/^taken over by ed-1:8001 at .+ \(7 runs moved\)$/);
    expect(screen.getByTestId("workers-summary").textContent).toBe("1 alive, 1 silent.");
  });

  it("counts the silence on from the server's figure by the time since the fetch", () => {
    const panel = workers([worker({ silent_seconds: 50, alive: false })], null, 15_000);
    expect(within(row(panel, "ed-1:8001")).getByTestId("worker-silent-for").textContent).toBe("1 min ago");
  });

  it("raises a silent worker nobody took over, and no live worker at all", () => {
    workers([worker({ alive: false, silent_seconds: 90 })]);
    expect(screen.getByTestId("worker-takeover").textContent).toBe("not taken over yet");
    const summary = screen.getByRole("status");
    expect(summary.textContent).toBe("0 alive, 1 silent. No live worker: new intake sessions wait until one starts.");
    expect(summary.className).toBe("health-alarm");
  });

  it("says a worker seen only by its runs has no known host", () => {
    const panel = workers([worker({ host: "", pid: 0, alive: false, silent_seconds: 40 })]);
    expect(row(panel, "ed-1:8001").textContent).toContain("host unknown");
  });

  it("has a loading, an empty and an error state", () => {
    workers(null);
    expect(screen.getByText("Loading workers…")).toBeTruthy();
    cleanup();
    workers([]);
    expect(screen.getByText(/No worker has recorded a heartbeat/)).toBeTruthy();
    cleanup();
    workers(null, "Forbidden");
    expect(screen.getByRole("alert").textContent).toBe("Could not load the workers: Forbidden");
    expect(screen.queryByText("Loading workers…")).toBeNull();
  });

  it("keeps the last picture under an error of a later poll", () => {
    const panel = workers([worker({})], "Network error");
    expect(screen.getByRole("alert").textContent).toContain("Network error");
    expect(row(panel, "ed-1:8001")).toBeTruthy();
  });

  it("shows an executor id with markup as text, never as markup", () => {
    const evil = '<img src=x onerror="alert(1)">';
    const panel = workers([worker({ executor_id: evil, host: "<b>h</b>" })]);
    expect(panel.querySelector("img")).toBeNull();
    expect(panel.querySelector("b")).toBeNull();
    expect(panel.textContent).toContain(evil);
  });
});

function agent(over: Partial<AgentHealth>): AgentHealth {
  return { agent: "triage", clinical: true, version: "1", circuit: "closed", runs: 10, failures: 0, last_error: null, ...over };
}

describe("AgentsPanel", () => {
  it("names each agent's circuit state in words with its failures and last error", () => {
    render(
      <AgentsPanel
        fetched={{
          data: [agent({}), agent({ agent: "legal_case", clinical: false, circuit: "open", failures: 5, last_error: "TimeoutError" })],
          at: FETCHED_AT,
          error: null,
        }}
      />,
    );
    const panel = screen.getByRole("region", { name: "Intake agents" });
    const open = panel.querySelector('tr[data-agent="legal_case"]');
    expect(open?.textContent).toContain("legal case");
    expect(open?.textContent).toContain("non-clinical");
    expect(open?.textContent).toContain("open: calls refused until it resets");
    expect(open?.textContent).toContain("TimeoutError");
    expect(panel.querySelector('tr[data-agent="triage"]')?.textContent).toContain("closed: calls go through");
  });

  it("has a loading and an error state", () => {
    render(<AgentsPanel fetched={{ data: null, at: 0, error: null }} />);
    expect(screen.getByText("Loading agents…")).toBeTruthy();
    cleanup();
    render(<AgentsPanel fetched={{ data: null, at: 0, error: "Server error" }} />);
    expect(screen.getByRole("alert").textContent).toBe("Could not load the agents: Server error");
  });
});
