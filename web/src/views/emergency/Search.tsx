import { useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";
import {
  emergency,
  type SearchResults,
  text,
} from "../../api/emergency";
import { useApp } from "../../app/context";

const KINDS = ["", "incident", "unit", "resource", "person", "shelter", "item", "alert", "evacuee"];

function Marked({ segments }: { segments: { text: string; match: boolean }[] }) {
  // Text nodes only: user text never reaches the DOM as markup.
  return <>{segments.map((s, n) => (s.match ? <mark key={n}>{s.text}</mark> : <span key={n}>{s.text}</span>))}</>;
}

/** One search over everything, ranked, with the matched words highlighted. */
export function Search() {
  const { api } = useApp();
  const [params, setParams] = useSearchParams();
  const query = params.get("q") ?? "";
  const kind = params.get("kind") ?? "";
  const [results, setResults] = useState<SearchResults | null>(null);
  useEffect(() => {
    if (!query.trim()) return;
    let live = true;
    emergency.search(api, query, kind || undefined).then((r) => live && setResults(r), () => live && setResults(null));
    return () => {
      live = false;
    };
  }, [api, query, kind]);
  return (
    <section className="panel" aria-labelledby="search-title">
      <h2 id="search-title">Search</h2>
      <form className="inline" onSubmit={(e) => { e.preventDefault(); const f = new FormData(e.currentTarget); setParams({ q: text(f, "q"), kind: text(f, "kind") }); }}>
        <label>Find<input name="q" type="search" defaultValue={query} key={query} /></label>
        <label>Kind<select name="kind" defaultValue={kind}>{KINDS.map((k) => <option key={k} value={k}>{k || "everything"}</option>)}</select></label>
        <button type="submit">Search</button>
      </form>
      {results && (
        <ol className="list hits" data-testid="search-results">
          {results.hits.map((h) => (
            <li key={`${h.kind}-${h.ref_id}`} className="card hit">
              <span className="status">{h.kind}</span> <strong><Marked segments={h.title_segments} /></strong>
              {h.status && <span className="muted small"> · {h.status}</span>}
              {h.snippet.length > 0 && <p className="small"><Marked segments={h.snippet} /></p>}
            </li>
          ))}
          {results.hits.length === 0 && <li className="muted">Nothing found for “{results.query}”.</li>}
        </ol>
      )}
    </section>
  );
}
