import { text } from "../api/emergency";

/** The search box in the top bar: sends the query to the search page. */
export function SearchBox({ onSearch }: { onSearch: (q: string) => void }) {
  return (
    <form role="search" className="searchbox" onSubmit={(e) => { e.preventDefault(); const q = text(new FormData(e.currentTarget), "q").trim(); if (q) onSearch(q); }}>
      <label className="sr-only" htmlFor="global-search">Search</label>
      <input id="global-search" name="q" type="search" placeholder="Search shelters, resources, alerts…" />
    </form>
  );
}
