import { useState, type SyntheticEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { opt, problemText, text } from "../../api/emergency";
import {
  registry,
  type CandidateRead,
  type PersonRegistration,
  type PersonSummary,
  type RegistrationResult,
  type SearchHit,
} from "../../api/registry";
import { useApp } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";

const DECISION_TEXT: Record<RegistrationResult["decision"], string> = {
  created: "Registered as a new person.",
  exact: "An identifier matched: linked to the existing person.",
  auto: "Matched the existing person (linked automatically).",
  review: "Possible match: sent to the review queue for a person to decide.",
};

export function personLabel(p: PersonSummary): string {
  const born = p.birth_date ? ` · ${p.birth_date_estimated ? "~" : ""}${p.birth_date}` : "";
  return `${p.display_name}${born}${p.sex ? ` · ${p.sex}` : ""}`;
}

/** Find a person (identifier, phone, or name and date of birth) and register new ones. */
export function Persons() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const navigate = useNavigate();
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [result, setResult] = useState<RegistrationResult | null>(null);

  async function search(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    try {
      setHits(
        await registry.search(api, {
          identifier: text(f, "identifier").trim(),
          phone: text(f, "phone").trim(),
          given_name: text(f, "given").trim(),
          family_name: text(f, "family").trim(),
          birth_date: text(f, "born"),
        }),
      );
      setMessage(null);
    } catch (err) {
      setMessage(problemText(err));
    }
  }

  async function register(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      const unknown = f.get("unknown") === "on";
      const age = opt(f, "r-age");
      const body: PersonRegistration = {
        unknown,
        given_name: opt(f, "r-given"),
        family_name: opt(f, "r-family"),
        birth_date: opt(f, "r-born"),
        estimated_age_years: age === null ? null : Number(age),
        sex: (opt(f, "r-sex") as PersonRegistration["sex"]) ?? null,
        phone: opt(f, "r-phone"),
        email: opt(f, "r-email"),
        language: opt(f, "r-language"),
        description: opt(f, "r-description"),
        address: opt(f, "r-line") || opt(f, "r-city")
          ? { line: opt(f, "r-line"), city: opt(f, "r-city"), postcode: opt(f, "r-postcode") }
          : null,
        identifiers: opt(f, "r-national") ? [{ system: "national", value: text(f, "r-national").trim() }] : [],
      };
      try {
        const res = await registry.register(api, body);
        setResult(res);
        setMessage(DECISION_TEXT[res.decision]);
      } catch (err) {
        setResult(null);
        setMessage(problemText(err));
      }
    });
  }

  return (
    <div className="two-col">
      <section className="panel grow" aria-labelledby="persons-title">
        <h2 id="persons-title">Find a person</h2>
        <form onSubmit={(e) => void search(e)} className="form" aria-label="Search persons">
          <div className="row2">
            <label>National id<input name="identifier" /></label>
            <label>Phone<input name="phone" /></label>
          </div>
          <div className="row2">
            <label>Given name<input name="given" /></label>
            <label>Family name<input name="family" /></label>
          </div>
          <label>Date of birth<input name="born" type="date" /></label>
          <button className="primary" type="submit">Search</button>
        </form>
        {can("persons:merge") && <p><Link to="/persons/reviews">Match review queue</Link></p>}
        {hits !== null && (
          <table className="table" data-testid="person-hits">
            <thead><tr><th>Person</th><th>Matched on</th><th>Score</th></tr></thead>
            <tbody>
              {hits.map((h) => (
                <tr key={h.person.id}>
                  <td><Link to={`/persons/${h.person.id}`}>{personLabel(h.person)}</Link></td>
                  <td>{h.matched_on.join(", ") || "—"}</td>
                  <td>{h.score.toFixed(2)}</td>
                </tr>
              ))}
              {hits.length === 0 && <tr><td colSpan={3} className="muted">Nobody found.</td></tr>}
            </tbody>
          </table>
        )}
      </section>
      {can("persons:write") && (
        <aside className="panel side">
          <h2>Register a person</h2>
          <form aria-busy={busy} onSubmit={(e) => void register(e)} className="form" aria-label="Register a person">
            <label className="check"><input type="checkbox" name="unknown" /> Unknown patient</label>
            <div className="row2">
              <label>Given name<input name="r-given" /></label>
              <label>Family name<input name="r-family" /></label>
            </div>
            <div className="row2">
              <label>Date of birth<input name="r-born" type="date" /></label>
              <label>or age (estimate)<input name="r-age" type="number" min={0} max={130} /></label>
            </div>
            <label>Sex<select name="r-sex" defaultValue="">
              <option value="">—</option><option value="female">female</option>
              <option value="male">male</option><option value="other">other</option>
              <option value="unknown">unknown</option>
            </select></label>
            <label>National id<input name="r-national" /></label>
            <div className="row2">
              <label>Phone<input name="r-phone" /></label>
              <label>E-mail<input name="r-email" type="email" /></label>
            </div>
            <label>Street address<input name="r-line" /></label>
            <div className="row2">
              <label>City<input name="r-city" /></label>
              <label>Postcode<input name="r-postcode" /></label>
            </div>
            <label>Language (e.g. fi, en)<input name="r-language" /></label>
            <label>Description (for an unknown patient)<input name="r-description" /></label>
            <button disabled={busy} className="primary" type="submit">Register</button>
          </form>
          {message && <p role="status" data-testid="register-status">{message}</p>}
          {result && (
            <p>
              <button type="button" onClick={() => void navigate(`/persons/${result.linked_to ?? result.person.id}`)}>
                Open chart
              </button>
            </p>
          )}
          {result && (result.candidates ?? []).length > 0 && <Candidates candidates={result.candidates ?? []} />}
        </aside>
      )}
    </div>
  );
}

function Candidates({ candidates }: { candidates: CandidateRead[] }) {
  return (
    <table className="table small" data-testid="candidates">
      <thead><tr><th>Candidate</th><th>Weight</th><th>Agree</th><th>Disagree</th></tr></thead>
      <tbody>
        {candidates.slice(0, 5).map((c) => (
          <tr key={c.person.id}>
            <td><Link to={`/persons/${c.person.id}`}>{personLabel(c.person)}</Link></td>
            <td>{c.match_weight.toFixed(1)} ({c.decision})</td>
            <td>{c.fields.agree.join(", ")}</td>
            <td>{c.fields.disagree.join(", ")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
